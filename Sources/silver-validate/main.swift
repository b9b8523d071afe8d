import MedallionCLI

SilverValidateCommand.main()
