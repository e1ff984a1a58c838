//! Compiles the `.proto` files with protox (pure Rust), so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/satchel/v1/identity.proto",
        "proto/satchel/v1/prekeys.proto",
        "proto/satchel/v1/handshake.proto",
        "proto/satchel/v1/state.proto",
        "proto/satchel/v1/school.proto",
        "proto/satchel/v1/content.proto",
        "proto/satchel/v1/group.proto",
    ];
    let descriptors = protox::compile(files, ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
