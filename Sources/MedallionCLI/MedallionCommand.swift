import ArgumentParser
import MedallionCore

/// The runner. For now it hosts `generate`; `run`, `check` and `onboard`
/// join it as the configuration tree lands.
package struct MedallionCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "medallion",
        abstract: "medallion: a config-driven streaming data platform built from small Unix filters.",
        version: medallionVersion,
        subcommands: [GenerateCommand.self])

    package init() {}
}
