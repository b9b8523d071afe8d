import MedallionCLI

MedallionCommand.main()
