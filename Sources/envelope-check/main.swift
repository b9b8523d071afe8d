import MedallionCLI

EnvelopeCheckCommand.main()
