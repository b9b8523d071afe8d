import MedallionCLI

DLQSinkCommand.main()
