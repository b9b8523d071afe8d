import MedallionCLI

BronzeSinkCommand.main()
