#[test]
fn schema_graphql_matches_the_served_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let served = latchkey::graphql::sdl();

    assert!(
        on_disk.trim_end() == served.trim_end(),
        "schema.graphql is out of date with the code; run `cargo run -- print-schema > schema.graphql`"
    );
}
