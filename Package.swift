// swift-tools-version: 6.1
import PackageDescription

/// One core library (`MedallionCore`), one thin CLI layer (`MedallionCLI`, the only
/// module that sees ArgumentParser) and one small `@main` per executable.
let package = Package(
    name: "medallion",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "MedallionCore", dependencies: ["CZstd", "CRdKafka", "CZlib", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "MedallionCLI",
            dependencies: [
                "MedallionCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "envelope-check", dependencies: ["MedallionCLI"]),
        .executableTarget(name: "bronze-sink", dependencies: ["MedallionCLI"]),
        .executableTarget(name: "dlq-sink", dependencies: ["MedallionCLI"]),
        .executableTarget(name: "medallion", dependencies: ["MedallionCLI"]),
        .executableTarget(name: "eh-source", dependencies: ["MedallionCLI"]),
        .executableTarget(name: "silver-validate", dependencies: ["MedallionCLI"]),
        .testTarget(
            name: "MedallionCoreTests", dependencies: ["MedallionCore"],
            exclude: ["Config/Fixtures"]),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .enableUpcomingFeature("ExistentialAny"),
    ]
}
