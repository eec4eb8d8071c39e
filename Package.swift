// swift-tools-version:6.0
import PackageDescription

// libclarifai: the Clarifai API client as one C shared library (see README.md and Include/clarifai.h).
// The Makefile builds the product in release mode with the Swift runtime linked statically and a
// linker version script so that only clarifai_* symbols are exported.
let package = Package(
    name: "libclarifai",
    products: [
        .library(name: "clarifai", type: .dynamic, targets: ["Clarifai"]),
    ],
    targets: [
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CJansson", path: "Sources/CJansson", pkgConfig: "jansson",
                       providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        // zlib: libcurl4 loads it anyway; it decodes gzip-compressed gRPC messages.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // Linux interfaces missing from Swift's Glibc module (eventfd).
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        // The public header as a module, so that Swift sees the C structs it hands out.
        .systemLibrary(name: "CClarifaiHeader", path: "Sources/CClarifaiHeader"),
        // The official API definition, embedded as data (generate.py writes descriptor_set.c).
        .target(name: "CClarifaiSchema", path: "Sources/CClarifaiSchema",
                exclude: ["generate.py"]),
        .target(name: "ClarifaiCore",
                dependencies: ["CCurl", "CJansson", "COpenSSL", "CZlib", "CLinux", "CClarifaiHeader", "CClarifaiSchema"]),
        .target(name: "Clarifai", dependencies: ["ClarifaiCore", "CClarifaiHeader"],
                exclude: ["exports.map"]),
        .testTarget(name: "ClarifaiCoreTests", dependencies: ["ClarifaiCore", "CJansson", "CZlib"],
                    path: "Tests/ClarifaiCoreTests"),
    ]
)
