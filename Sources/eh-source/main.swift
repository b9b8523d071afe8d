import MedallionCLI

EHSourceCommand.main()
