import ArgumentParser
import MedallionCore

/// The flags every filter shares (the stage contract in docs/cli.md).
package struct StandardOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Input: a file, a FIFO, or '-' for stdin (the default). A path ending in .zst is decompressed.",
        valueName: "path"))
    package var input: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Where rejected records go: a file (appended) or a FIFO. Default: ./<stage>.dlq.ndjson, created on the first reject and named in the summary.",
        valueName: "path"))
    package var dlq: String?

    @Option(name: .long, help: ArgumentHelp(
        "Longest accepted line in bytes; a longer line becomes a line_too_long DLQ record and the stream goes on.",
        valueName: "bytes"))
    package var maxLineBytes: Int = 1 << 20

    @Flag(name: .long, help: "Flush output after every line (for interactive use; slower).")
    package var lineBuffered = false

    package init() {}

    package func validate() throws {
        guard maxLineBytes >= 64, maxLineBytes <= 1 << 30 else {
            throw ValidationError("--max-line-bytes must be between 64 and 1073741824 (1 GiB), got \(maxLineBytes)")
        }
    }

    /// For filters that read one stream (all but dlq-sink).
    package func requireSingleInput(_ stage: String) throws {
        guard input.count <= 1 else {
            throw ValidationError("\(stage) reads one input, got \(input.count); merge them first (cat a b | \(stage)) or see dlq-sink")
        }
    }

    package func runtimeOptions(stage: String) -> StageRuntime.Options {
        var options = StageRuntime.Options(stage: stage)
        options.input = input.first ?? "-"
        options.moreInputs = Array(input.dropFirst())
        options.dlqPath = dlq
        options.maxLineBytes = maxLineBytes
        options.lineBuffered = lineBuffered
        return options
    }
}

/// Runs a filter's body with the shared contract: signals installed, a
/// summary on stderr, errors mapped to sysexits codes, EPIPE reported once.
package func runFilter(
    stage: String, options: StandardOptions, summaryInput: String? = nil, dlqInstance: String? = nil,
    _ body: (StageRuntime) throws(StageError) -> Void
) throws(ExitCode) {
    Signals.install()
    let runtime: StageRuntime
    do {
        var runtimeOptions = options.runtimeOptions(stage: stage)
        runtimeOptions.summaryInput = summaryInput
        runtimeOptions.dlqInstance = dlqInstance
        runtime = try StageRuntime(options: runtimeOptions)
    } catch {
        let input = summaryInput ?? (options.input.isEmpty ? "-" : options.input.joined(separator: ","))
        if Signals.stopRequested {
            // Stopped while opening a FIFO (no writer or reader yet): nothing was
            // read or written, which is a clean stop, not a failure.
            StageRuntime.emitNotStartedSummary(stage: stage, input: input, status: "stopped")
            return
        }
        reportError(stage: stage, error)
        StageRuntime.emitNotStartedSummary(stage: stage, input: input, error: error.message)
        throw ExitCode(error.exitStatus.rawValue)
    }
    do {
        try body(runtime)
        runtime.emitSummary(status: Signals.stopRequested ? "stopped" : "ok")
    } catch {
        if error.code == .brokenPipe {
            runtime.log(level: "error", event: "broken_pipe",
                        "downstream closed the pipe; stopped without delivering the rest (see rows_undelivered)")
        } else {
            reportError(stage: stage, error)
        }
        runtime.emitSummary(status: error.code == .brokenPipe ? "broken_pipe" : "failed", error: error.message)
        throw ExitCode(error.exitStatus.rawValue)
    }
}

/// Reports configuration problems found before a filter starts (one JSON
/// line each, `file:line: error: ...`), then the summary of a stage that
/// read nothing, and exits 78.
package func failConfiguration(stage: String, input: String, _ messages: [String]) -> ExitCode {
    for message in messages { reportError(stage: stage, StageError(.config, message)) }
    StageRuntime.emitNotStartedSummary(stage: stage, input: input,
        error: messages.count == 1 ? messages[0] : "\(messages.count) configuration problems (listed above)")
    return ExitCode(ExitStatus.config.rawValue)
}

/// Prints an error as one JSON line on stderr.
package func reportError(stage: String, _ error: StageError) {
    var w = JSONWriter.diagnostic(level: "error", stage: stage, event: "error")
    w.key("exit_status"); w.int(Int(error.exitStatus.rawValue))
    w.key("msg"); w.string(error.message)
    w.endObject()
    writeDiagnostic(w.bytes)
}

/// Splits a comma-separated flag value, dropping empty items.
package func commaList(_ value: String?) -> [String]? {
    guard let value else { return nil }
    return value.split(separator: ",").map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
