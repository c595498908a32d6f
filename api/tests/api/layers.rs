//! The import rule of `api/src` (ARCHITECTURE.md, "Layers"): each top-level
//! module stands on one layer and imports only modules of the layers below
//! its own; modules of one layer do not import each other. So the modules'
//! imports never run in a circle.
//!
//! Every file under `api/src` is read; each `crate::…` path in its code
//! (a `use`, a path in an expression, each name of a `crate::{…}` group, and
//! a `super::` that climbs out of its top-level module) names the module it
//! reaches. Comments are skipped. A module no layer lists fails too, so a new
//! one is placed on purpose.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    crate::standalone![paths_and_groups_are_read, every_import_goes_down_a_layer]
}

/// The layers, top first: a module may import those of later layers only.
const LAYERS: &[(&str, &[&str])] = &[
    ("the binary", &["main", "lib"]),
    ("the process", &["startup"]),
    ("serving", &["server", "telemetry", "preflight", "openapi"]),
    // It finishes erasures `me` began, and purges through the resources.
    ("background work", &["sweeper"]),
    (
        "resources",
        &[
            "me",
            "batch",
            "changes",
            "tags",
            "mcp",
            "health",
            "fair_share",
            "rate_limit",
        ],
    ),
    ("the tasks resource", &["tasks"]),
    // Scheduled by the tasks resource's writes, recorded by its scheduler.
    ("reminders", &["reminders"]),
    ("idempotent writes", &["idempotent"]),
    ("the change log", &["change_log"]),
    ("auth", &["auth"]),
    ("the database", &["database"]),
    ("metrics", &["metrics"]),
    ("HTTP plumbing", &["http"]),
    (
        "the ground floor",
        &["configuration", "deadline", "route_table"],
    ),
];

fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, modules))| modules.contains(&module))
        .map(|(rank, (name, _))| (rank, *name))
}

async fn every_import_goes_down_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "api/src read: {} files", files.len());
    let known: BTreeSet<&str> = LAYERS
        .iter()
        .flat_map(|(_, modules)| *modules)
        .copied()
        .collect();
    let mut broken = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module_path = module_path(relative);
        let from = module_path[0].clone();
        let shown = format!("api/src/{}", relative.display());
        let Some((from_rank, from_layer)) = layer_of(&from) else {
            broken.push(format!(
                "{shown}: module `{from}` is on no layer of this test"
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for to in reached(code_of(line), &module_path) {
                if to == from || !known.contains(to.as_str()) {
                    continue;
                }
                let (to_rank, to_layer) = layer_of(&to).unwrap();
                if to_rank <= from_rank {
                    broken.push(format!(
                        "{shown}:{}: `{from}` ({from_layer}) imports `{to}` ({to_layer}): {}",
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports that break the layers (ARCHITECTURE.md):\n{}",
        broken.join("\n")
    );
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push(path);
        }
    }
}

/// The module a file is: `auth/key_set.rs` is `[auth, key_set]`,
/// `auth/mod.rs` and `auth.rs` are `[auth]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.len() > 1 && parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts
}

/// The line without its comment (a `//` outside a string).
fn code_of(line: &str) -> &str {
    let mut in_string = false;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match c {
            '"' if previous != '\\' => in_string = !in_string,
            '/' if !in_string && previous == '/' => return &line[..at - 1],
            _ => {}
        }
        previous = c;
    }
    line
}

/// The top-level modules `code` names through `crate::` (or climbs to
/// through `super::`), from the file whose module is `module_path`.
fn reached(code: &str, module_path: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + "crate::".len()..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        found.extend(names_at(after));
    }
    // `super::` from a module `depth` deep climbs to the crate root after
    // `depth` steps; what follows is then a top-level module.
    let depth = module_path.len();
    let mut from = 0;
    while let Some(at) = code[from..].find("super::").map(|at| from + at) {
        let before = code[..at].chars().next_back();
        let mut after = &code[at..];
        from = at + "super::".len();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut steps = 0;
        while let Some(next) = after.strip_prefix("super::") {
            steps += 1;
            after = next;
        }
        if steps >= depth {
            found.extend(names_at(after));
        }
    }
    found
}

/// The first name of a path (`tasks::…`), or each first name of a group
/// (`{tasks::Task, me}`).
fn names_at(path: &str) -> Vec<String> {
    let ident = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = path.strip_prefix('{') else {
        return vec![ident(path)];
    };
    // The group's own top-level items, split at commas outside braces.
    let mut names = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                names.push(ident(&group[start..at]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.push(ident(&group[start..at]));
                start = at + 1;
            }
            _ => {}
        }
    }
    names.retain(|name| !name.is_empty());
    names
}

async fn paths_and_groups_are_read() {
    let root = ["startup".to_owned()];
    assert_eq!(reached("use crate::tasks::Task;", &root), ["tasks"]);
    assert_eq!(
        reached(
            "use crate::{auth::Identity, http::{error::ApiError, text}};",
            &root
        ),
        ["auth", "http"]
    );
    assert_eq!(reached("let x = $crate::http::text::X;", &root), ["http"]);
    let nested = ["auth".to_owned(), "key_set".to_owned()];
    assert!(reached("use super::clock::Clock;", &nested).is_empty());
    assert_eq!(
        reached("use super::super::tasks::Task;", &nested),
        ["tasks"]
    );
    assert_eq!(reached("use super::super::super::me;", &nested), ["me"]);
    assert_eq!(
        code_of("let url = \"http://x\"; // crate::me"),
        "let url = \"http://x\"; "
    );
}
