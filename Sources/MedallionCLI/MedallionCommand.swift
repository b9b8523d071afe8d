import ArgumentParser
import MedallionCore

/// The runner: sample data, the configuration tree's checks and
/// onboarding scaffolds. `run` joins it with the pipeline runner.
package struct MedallionCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "medallion",
        abstract: "medallion: a config-driven streaming data platform built from small Unix filters.",
        version: medallionVersion,
        subcommands: [GenerateCommand.self, CheckCommand.self, ConfigCommand.self, OnboardCommand.self, TestCommand.self])

    package init() {}
}
