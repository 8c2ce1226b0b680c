//! A check that a command line documents itself: every subcommand, flag and
//! choice of a clap `Command` has help text. Both binaries test their
//! definitions with it.

use clap::Command;

/// For a binary's tests: panics unless `cmd` is a consistent clap definition
/// (`Command::debug_assert`) in which everything has help text.
pub fn assert_documented(cmd: Command) {
    cmd.clone().debug_assert();
    let missing = undocumented(&cmd);
    assert!(missing.is_empty(), "no help text: {missing:#?}");
}

/// What in `cmd` (recursively) has no help text, each as the words a user
/// types: `skel-pipeline split --protocol`, `skel-trainer fit --phase main`.
pub fn undocumented(cmd: &Command) -> Vec<String> {
    let mut cmd = cmd.clone();
    cmd.build();
    let mut missing = Vec::new();
    walk(&cmd, cmd.get_name(), &mut missing);
    missing
}

fn walk(cmd: &Command, path: &str, missing: &mut Vec<String>) {
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let name = match arg.get_long() {
            Some(long) => format!("--{long}"),
            None => format!("<{}>", arg.get_id()),
        };
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            missing.push(format!("{path} {name}"));
        }
        if !arg.get_action().takes_values() {
            continue;
        }
        for value in arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
        {
            if value.get_help().is_none() {
                missing.push(format!("{path} {name} {}", value.get_name()));
            }
        }
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_path = format!("{path} {}", sub.get_name());
        if sub.get_about().is_none() && sub.get_long_about().is_none() {
            missing.push(sub_path.clone());
        }
        walk(sub, &sub_path, missing);
    }
}
