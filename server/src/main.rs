fn main() {
    let args: Vec<String> = std::env::args().collect();
    let exe = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    match nile_server::config::load(&exe, args.get(1..).unwrap_or(&[])) {
        Ok(cmd) => println!("{cmd:?}"),
        Err(e) => {
            eprintln!("nile: {e}");
            std::process::exit(1);
        }
    }
}
