//! The documentation checked against what ships (issue #22), so that the READMEs cannot drift
//! from the code again (a README once wrote a server configuration the server refused).
//!
//! Every `README.md` of the repository (and `ARCHITECTURE.md`) is read, and:
//!
//! - every ```json block, every `.json` file a shell block writes (a heredoc, `printf` or
//!   `echo` into a file), and every `config*.example.json`, is a server configuration: the
//!   built server is started with it on a loopback port, its file paths pointed at files made
//!   here (a PKI from `rcgen`), and must listen (or, for a master in a PKCS#11 token, get as
//!   far as opening the token). A block that is not one says so on the line before its fence:
//!   `<!-- not a configuration -->`, or `<!-- pin_policy -->` for a PIN policy, checked inside
//!   a configuration. So a new configuration block is checked without anyone asking for it.
//!   A fragment (`"diversification_key": {...}`) is checked inside a deployment's
//!   configuration (the initial admin key, `"tls"` and a `"registry"` added); a key, or
//!   a check value, written as a placeholder (`"<...>"`, `"..."`, a command's output) gets a
//!   random value.
//! - every `cargo run|build|test|bench` line (in shell blocks and inline code) names packages,
//!   targets and features `cargo metadata` knows, and every option it hands to one of the
//!   workspace's binaries, or that a line running such a binary directly passes, is in that
//!   binary's usage text (`BINARY [COMMAND...] --help`, stdout and stderr, from the binary in
//!   the target directory beside the server). A binary that is missing, or older than a source
//!   its dep-info lists (`card-admin`, outside the default members, unless its stage built
//!   it), is reported as not checked; `CARDADMIN_README_REQUIRE_BINARIES=1` makes that a
//!   failure.
//!
//! This is a test of the server crate because the server is what most snippets configure or
//! run, and a test here gets the built binary (`CARGO_BIN_EXE_cardadmin-server`) and runs in the
//! README's own test command, on any machine, with no tool but cargo.
//!
//! Beside them, the repository-wide rules the docs promise: one example master key, no citation
//! of a design file that does not ship, every file with `unsafe` code named in
//! `ARCHITECTURE.md`, every crate's README linked from the root one, and the crate docs being
//! the README.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use cardadmin::rand_core::RngCore;
use cardadmin::rng::OsRng;
use serde_json::Value;

const SERVER: &str = env!("CARGO_BIN_EXE_cardadmin-server");

/// Loopback ports the test servers listen on, tried in turn.
const PORTS: (u16, u16) = (19600, 19699);

/// Marks a ```json block (on the line before its fence) that is not a server configuration.
const NOT_A_CONFIGURATION: &str = "<!-- not a configuration -->";
/// Marks a ```json block that is a `"pin_policy"` value.
const PIN_POLICY: &str = "<!-- pin_policy -->";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every file of the repository whose name satisfies `keep`, outside build output, VCS data
/// and fuzzing output.
fn repo_files(keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    fn walk(dir: &Path, keep: &dyn Fn(&str) -> bool, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let skip = matches!(name.as_str(), ".git" | ".hg" | ".svn")
                    || matches!(
                        name.as_str(),
                        "target" | "corpus" | "artifacts" | "coverage"
                    )
                    || name.starts_with("mutants.out");
                if !skip {
                    walk(&path, keep, out);
                }
            } else if kind.is_file() && keep(&name) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo_root(), keep, &mut out);
    out
}

/// The documents whose snippets are checked.
fn documents() -> Vec<PathBuf> {
    let docs = repo_files(&|name| name == "README.md" || name == "ARCHITECTURE.md");
    assert!(
        docs.iter().any(|path| relative(path) == "README.md"),
        "no root README.md found under {}",
        repo_root().display()
    );
    docs
}

// == Markdown =====================================================================================

/// A fenced code block: where it starts (1-based line of the fence), its info string, its lines
/// (with the fence's indentation removed), and the HTML comment on the line before, if any.
struct Block {
    line: usize,
    info: String,
    body: Vec<String>,
    marker: Option<String>,
}

/// The fenced blocks of a Markdown text, and the text outside them (fenced lines blanked, so
/// line numbers still count).
fn parse_markdown(text: &str) -> (Vec<Block>, String) {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut last_text_line: Option<&str> = None;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            let indent = line.len() - trimmed.len();
            let marker = last_text_line
                .map(str::trim)
                .filter(|text| text.starts_with("<!--"))
                .map(str::to_owned);
            let start = i + 1;
            let mut body = Vec::new();
            prose.push('\n');
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                let raw = lines[i];
                let cut = raw.len() - raw.trim_start().len();
                body.push(raw[cut.min(indent)..].to_owned());
                prose.push('\n');
                i += 1;
            }
            prose.push('\n');
            blocks.push(Block {
                line: start,
                info: info.trim().to_owned(),
                body,
                marker,
            });
            last_text_line = None;
            i += 1;
            continue;
        }
        prose.push_str(line);
        prose.push('\n');
        if !line.trim().is_empty() {
            last_text_line = Some(line);
        }
        i += 1;
    }
    (blocks, prose)
}

/// Inline code spans of the prose (single backticks), with the line each starts on; a span may
/// run over a line break, which becomes a space.
fn inline_spans(prose: &str) -> Vec<(usize, String)> {
    let mut spans = Vec::new();
    let mut line = 1;
    let mut chars = prose.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '`' => {
                if chars.peek() == Some(&'`') {
                    // A double-backtick span: skip to its end.
                    chars.next();
                    let mut prev = ' ';
                    for c in chars.by_ref() {
                        if c == '\n' {
                            line += 1;
                        }
                        if c == '`' && prev == '`' {
                            break;
                        }
                        prev = c;
                    }
                    continue;
                }
                let start = line;
                let mut span = String::new();
                for c in chars.by_ref() {
                    match c {
                        '`' => break,
                        '\n' => {
                            line += 1;
                            span.push(' ');
                        }
                        c => span.push(c),
                    }
                }
                spans.push((start, span.split_whitespace().collect::<Vec<_>>().join(" ")));
            }
            _ => {}
        }
    }
    spans
}

fn is_shell(info: &str) -> bool {
    matches!(info, "sh" | "bash" | "shell" | "console" | "")
}

// == Shell, enough of it ==========================================================================

#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// A word as written, quotes included (expanded or unquoted later).
    Word(String),
    /// `&&`, `||`, `;`, `|`, `&`, `(`, `)`, `>`, `>>`, `<`, `<<`.
    Op(&'static str),
}

/// Splits one logical shell line into words and operators; `#` starts a comment at the start
/// of a word. A digit word glued to `>` (`2>`) is dropped with the redirection.
fn lex(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut chars = line.chars().peekable();
    let flush = |word: &mut String, tokens: &mut Vec<Token>| {
        if !word.is_empty() {
            tokens.push(Token::Word(std::mem::take(word)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                word.push(c);
                loop {
                    match chars.next() {
                        Some('\'') => break word.push('\''),
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed ' in: {line}")),
                    }
                }
            }
            '"' => {
                word.push(c);
                loop {
                    match chars.next() {
                        Some('\\') => {
                            word.push('\\');
                            if let Some(c) = chars.next() {
                                word.push(c);
                            }
                        }
                        Some('"') => break word.push('"'),
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed \" in: {line}")),
                    }
                }
            }
            '\\' => {
                word.push('\\');
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                // A command substitution, kept whole in its word.
                word.push('$');
                let mut depth = 0;
                for c in chars.by_ref() {
                    word.push(c);
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '#' if word.is_empty() => break,
            ' ' | '\t' => flush(&mut word, &mut tokens),
            '&' | '|' | ';' | '(' | ')' | '>' | '<' => {
                if (c == '>' || c == '<') && word.chars().all(|c| c.is_ascii_digit()) {
                    word.clear();
                }
                flush(&mut word, &mut tokens);
                let op = match (c, chars.peek()) {
                    ('&', Some('&')) => "&&",
                    ('|', Some('|')) => "||",
                    ('>', Some('>')) => ">>",
                    ('<', Some('<')) => "<<",
                    ('&', _) => "&",
                    ('|', _) => "|",
                    (';', _) => ";",
                    ('(', _) => "(",
                    (')', _) => ")",
                    ('>', _) => ">",
                    _ => "<",
                };
                if op.len() == 2 {
                    chars.next();
                }
                tokens.push(Token::Op(op));
            }
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    Ok(tokens)
}

/// A word without its quotes and escapes, variables left as written.
fn unquote(word: &str) -> String {
    let mut out = String::new();
    let mut chars = word.chars();
    let mut quote = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (_, '\\') => {
                if let Some(c) = chars.next() {
                    out.push(c);
                }
            }
            (_, c) => out.push(c),
        }
    }
    out
}

/// One logical line of a shell block: where it starts, its tokens, and the heredoc body that
/// follows it (if it has a `<<`): the body's lines and whether they are expanded.
struct Logical {
    line: usize,
    tokens: Vec<Token>,
    heredoc: Option<(Vec<String>, bool)>,
}

/// The block's logical lines: `\`, `|`, `&&` and `||` at the end of a line continue it. With
/// `lenient` (a `text` block: usage lines among program output), a line that is not shell
/// (an unclosed quote in a message) is skipped instead of failing the block.
fn logical_lines(body: &[String], start: usize, lenient: bool) -> Result<Vec<Logical>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let line_no = start + i + 1;
        let mut text = String::new();
        loop {
            let mut line = body[i].as_str();
            // A `$ ` prompt (console transcripts).
            if text.is_empty() {
                line = line.strip_prefix("$ ").unwrap_or(line);
            }
            i += 1;
            let trimmed = line.trim_end();
            if let Some(head) = trimmed.strip_suffix('\\') {
                text.push_str(head);
                text.push(' ');
            } else if (trimmed.ends_with('|') || trimmed.ends_with("&&")) && i < body.len() {
                text.push_str(trimmed);
                text.push(' ');
            } else {
                text.push_str(line);
                break;
            }
            if i >= body.len() {
                break;
            }
        }
        let tokens = match lex(&text) {
            Ok(tokens) => tokens,
            Err(_) if lenient => Vec::new(),
            Err(err) => return Err(format!("line {line_no}: {err}")),
        };
        let mut heredoc = None;
        if let Some(at) = tokens.iter().position(|t| *t == Token::Op("<<")) {
            let Some(Token::Word(delimiter)) = tokens.get(at + 1) else {
                return Err(format!("line {line_no}: << without a delimiter"));
            };
            let expand = !delimiter.contains(['\'', '"']);
            let delimiter = unquote(delimiter.trim_start_matches('-'));
            let mut lines = Vec::new();
            while i < body.len() && body[i].trim() != delimiter {
                lines.push(body[i].clone());
                i += 1;
            }
            i += 1;
            heredoc = Some((lines, expand));
        }
        out.push(Logical {
            line: line_no,
            tokens,
            heredoc,
        });
    }
    Ok(out)
}

/// The simple commands of a logical line: tokens split at `&&`, `||`, `;`, `|`, `&` and
/// parentheses, each with its redirections: (words, output file, whether it reads a heredoc).
fn simple_commands(tokens: &[Token]) -> Vec<(Vec<String>, Option<String>, bool)> {
    let mut out = Vec::new();
    let mut words = Vec::new();
    let mut target = None;
    let mut heredoc = false;
    let mut it = tokens.iter().peekable();
    while let Some(token) = it.next() {
        match token {
            Token::Word(word) => words.push(word.clone()),
            Token::Op(op @ (">" | ">>" | "<" | "<<")) => {
                if let Some(Token::Word(file)) = it.next() {
                    match *op {
                        ">" | ">>" => target = Some(file.clone()),
                        "<<" => heredoc = true,
                        _ => {}
                    }
                }
            }
            Token::Op(_) => {
                if !words.is_empty() {
                    out.push((std::mem::take(&mut words), target.take(), heredoc));
                }
                target = None;
                heredoc = false;
            }
        }
    }
    if !words.is_empty() {
        out.push((words, target, heredoc));
    }
    out
}

/// Just enough of a shell to follow what a README's block writes to `.json` files: variables
/// (`NAME=value`, `export`, `${NAME:-default}`), `printf`/`echo`/`cat <<EOF` into files, and
/// the command substitutions `$(openssl rand -hex N)` and `$(cat FILE)` (of a file the block
/// wrote). Nothing touches the disk: files are kept in a map.
#[derive(Default)]
struct Shell {
    vars: BTreeMap<String, String>,
    files: BTreeMap<String, (usize, String)>,
}

impl Shell {
    fn expand(&self, word: &str) -> Result<String, String> {
        let mut out = String::new();
        let chars: Vec<char> = word.chars().collect();
        let mut i = 0;
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            match (quote, c) {
                (None, '\'') => {
                    i += 1;
                    while i < chars.len() && chars[i] != '\'' {
                        out.push(chars[i]);
                        i += 1;
                    }
                }
                (None, '"') => quote = Some('"'),
                (Some('"'), '"') => quote = None,
                (_, '\\') => {
                    i += 1;
                    if let Some(&next) = chars.get(i) {
                        if quote.is_some() && !matches!(next, '"' | '\\' | '$' | '`') {
                            out.push('\\');
                        }
                        out.push(next);
                    }
                }
                (_, '$') => {
                    let (text, used) = self.dollar(&chars[i..])?;
                    out.push_str(&text);
                    i += used - 1;
                }
                (_, c) => out.push(c),
            }
            i += 1;
        }
        Ok(out)
    }

    /// A heredoc body line: `$` expansions and `\` escapes, quotes literal.
    fn expand_heredoc_line(&self, line: &str) -> Result<String, String> {
        let chars: Vec<char> = line.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' if matches!(chars.get(i + 1), Some('$' | '\\' | '`')) => {
                    out.push(chars[i + 1]);
                    i += 2;
                }
                '$' => {
                    let (text, used) = self.dollar(&chars[i..])?;
                    out.push_str(&text);
                    i += used;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        Ok(out)
    }

    /// The expansion at a `$`, and how many characters it took.
    fn dollar(&self, chars: &[char]) -> Result<(String, usize), String> {
        match chars.get(1) {
            Some('(') => {
                let mut depth = 0;
                let mut end = None;
                for (at, c) in chars.iter().enumerate().skip(1) {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(at);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or("unclosed $(")?;
                let inner: String = chars[2..end].iter().collect();
                Ok((self.substitute(&inner)?, end + 1))
            }
            Some('{') => {
                let end = chars.iter().position(|c| *c == '}').ok_or("unclosed ${")?;
                let inner: String = chars[2..end].iter().collect();
                let value = match inner.split_once(":-") {
                    Some((name, default)) => match self.vars.get(name) {
                        Some(value) if !value.is_empty() => value.clone(),
                        _ => self.expand(default)?,
                    },
                    None => self.vars.get(&inner).cloned().unwrap_or_default(),
                };
                Ok((value, end + 1))
            }
            Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                let len = chars[1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .count();
                let name: String = chars[1..=len].iter().collect();
                Ok((self.vars.get(&name).cloned().unwrap_or_default(), len + 1))
            }
            // `$!`, `$?`, `$$`: nothing this check needs.
            Some(_) => Ok((String::new(), 2)),
            None => Ok((String::from("$"), 1)),
        }
    }

    /// `$(...)`: `openssl rand -hex N` and `cat FILE` (of a file the block wrote) are followed;
    /// any other command's output is a placeholder.
    fn substitute(&self, command: &str) -> Result<String, String> {
        let words = lex(command)?
            .into_iter()
            .map(|token| match token {
                Token::Word(word) => self.expand(&word),
                Token::Op(op) => Err(format!("$({command}): {op} is not followed here")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["openssl", "rand", "-hex", count] => {
                let count: usize = count
                    .parse()
                    .map_err(|_| format!("$({command}): not a byte count"))?;
                Ok(random_hex(count))
            }
            ["cat", file] if self.files.contains_key(*file) => {
                Ok(self.files[*file].1.trim_end_matches('\n').to_owned())
            }
            // Output this check cannot compute (a check value a command printed): a placeholder,
            // which a configuration's key or check value field gets a random value for, and
            // anywhere else makes the server say what it expected.
            _ => Ok(format!("<output of {command}>")),
        }
    }

    /// Runs a block's logical lines, keeping the files they write.
    fn run(&mut self, lines: &[Logical]) -> Result<(), String> {
        for logical in lines {
            for (words, target, reads_heredoc) in simple_commands(&logical.tokens) {
                let at = |err: String| format!("line {}: {err}", logical.line);
                let mut words = words.as_slice();
                if words.first().map(String::as_str) == Some("export") {
                    words = &words[1..];
                }
                // `for NAME in FIRST ...; do`: the body is followed once, with the first value.
                if words.len() >= 4 && words[0] == "for" && words[2] == "in" {
                    let value = self.expand(&words[3]).map_err(at)?;
                    self.vars.insert(words[1].clone(), value);
                    continue;
                }
                if !words.is_empty() && words.iter().all(|word| is_assignment(word)) {
                    for word in words {
                        let (name, value) = word.split_once('=').unwrap_or((word, ""));
                        let value = self.expand(value).map_err(at)?;
                        self.vars.insert(name.to_owned(), value);
                    }
                    continue;
                }
                let Some(target) = target else {
                    continue;
                };
                let target = self.expand(&target).map_err(at)?;
                let text = match words.first().map(String::as_str) {
                    Some("printf") => {
                        let args = words[1..]
                            .iter()
                            .map(|word| self.expand(word))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(at)?;
                        printf(&args).map_err(at)?
                    }
                    Some("echo") => {
                        let args = words[1..]
                            .iter()
                            .map(|word| self.expand(word))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(at)?;
                        args.join(" ") + "\n"
                    }
                    Some("cat") if reads_heredoc => {
                        let (body, expand) = logical.heredoc.clone().unwrap_or_default();
                        let mut text = String::new();
                        for line in body {
                            if expand {
                                text.push_str(&self.expand_heredoc_line(&line).map_err(at)?);
                            } else {
                                text.push_str(&line);
                            }
                            text.push('\n');
                        }
                        text
                    }
                    _ => continue,
                };
                self.files.insert(target, (logical.line, text));
            }
        }
        Ok(())
    }
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// The shell's `printf FORMAT ARGS...`: `%s`, `%%`, `\n`, `\t`, `\\`; the format is reused
/// while arguments remain.
fn printf(args: &[String]) -> Result<String, String> {
    let (format, mut rest) = args.split_first().ok_or("printf without a format")?;
    let mut out = String::new();
    loop {
        let mut used = 0;
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c) => out.push(c),
                    None => out.push('\\'),
                },
                '%' => match chars.next() {
                    Some('%') => out.push('%'),
                    Some('s') => {
                        if let Some((arg, tail)) = rest.split_first() {
                            out.push_str(arg);
                            rest = tail;
                        }
                        used += 1;
                    }
                    other => return Err(format!("printf: %{other:?} is not followed here")),
                },
                c => out.push(c),
            }
        }
        if rest.is_empty() || used == 0 {
            return Ok(out);
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buffer);
    buffer.iter().map(|byte| format!("{byte:02X}")).collect()
}

// == Configurations ===============================================================================

/// A configuration found in a document: where, and its text.
struct Snippet {
    origin: String,
    text: String,
    pin_policy_only: bool,
}

/// Every configuration snippet of the documents, and the problems met finding them.
fn configuration_snippets() -> (Vec<Snippet>, Vec<String>) {
    let mut snippets = Vec::new();
    let mut problems = Vec::new();
    // The example configurations the READMEs name are documentation too.
    for file in repo_files(&|name| name.starts_with("config") && name.ends_with(".example.json")) {
        snippets.push(Snippet {
            origin: relative(&file),
            text: fs::read_to_string(&file).unwrap(),
            pin_policy_only: false,
        });
    }
    for doc in documents() {
        let name = relative(&doc);
        let text = fs::read_to_string(&doc).unwrap();
        let (blocks, _) = parse_markdown(&text);
        for block in blocks {
            let marker = block.marker.as_deref();
            if marker == Some(NOT_A_CONFIGURATION) {
                continue;
            }
            if block.info == "json" {
                snippets.push(Snippet {
                    origin: format!("{name}:{}", block.line),
                    text: block.body.join("\n"),
                    pin_policy_only: marker == Some(PIN_POLICY),
                });
            } else if is_shell(&block.info) {
                let mut shell = Shell::default();
                let run = logical_lines(&block.body, block.line, false)
                    .and_then(|lines| shell.run(&lines));
                if let Err(err) = run {
                    problems.push(format!("{name}: {err}"));
                }
                for (path, (line, text)) in shell.files {
                    if path.ends_with(".json") {
                        snippets.push(Snippet {
                            origin: format!("{name}:{line} (writes {path})"),
                            text,
                            pin_policy_only: false,
                        });
                    }
                }
            }
        }
    }
    (snippets, problems)
}

/// Files a configuration may name, made once: a CA, a server certificate for 127.0.0.1 and
/// localhost, and an (empty) CRL of that CA.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    crl: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer,
            DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
            SerialNumber,
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "readme snippets CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.key_identifier_method = KeyIdMethod::Sha256;
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let crl = CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(4000, 1, 1),
            crl_number: SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca)
        .unwrap();
        let pki = Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            crl: dir.join("ca.crl"),
        };
        fs::write(&pki.ca, ca.pem()).unwrap();
        fs::write(&pki.cert, cert.pem()).unwrap();
        fs::write(&pki.key, key.serialize_pem()).unwrap();
        fs::write(&pki.crl, crl.pem().unwrap()).unwrap();
        pki
    }
}

/// How long a key of the algorithm named in a configuration is, in hex digits.
fn key_hex_len(algorithm: Option<&str>) -> usize {
    match algorithm {
        Some("aes128") => 32,
        Some("aes256") => 64,
        _ => 48,
    }
}

/// A value a reader fills in: `"<48 hex digits of your own>"`, or `"..."`.
fn is_placeholder(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| (text.starts_with('<') && text.ends_with('>')) || is_elision(text))
}

/// Words of the error a server stops with at a service this test does not run.
type StopsAt = &'static [&'static str];

/// Environment variables for the server: name, value.
type Env = Vec<(String, String)>;

/// The configuration with every file it names pointed into `dir` (made there when the server
/// reads it), and a key written as a placeholder (`"<...>"`, `"..."`) replaced by random hex
/// digits; a database is looked for on a loopback port where none listens. Returns the
/// environment the server needs (a PKCS#11 PIN variable, SoftHSMv2's configuration), and, for
/// a configuration that needs a service this test does not run (a token, a database), the
/// words of the error the server stops with when it gets that far.
fn localize(config: &mut Value, dir: &Path, pki: &Pki) -> Result<(Env, Option<StopsAt>), String> {
    let object = config
        .as_object_mut()
        .ok_or("a configuration is a JSON object")?;
    let mut env = Vec::new();
    let mut stops_at: Option<StopsAt> = None;
    for (field, value) in object.iter_mut() {
        if field != "tls" {
            localize_keys(field, value, dir, &mut env, &mut stops_at)?;
        }
    }
    if let Some(tls) = object.get_mut("tls").and_then(Value::as_object_mut) {
        for (field, path) in [
            ("cert", &pki.cert),
            ("key", &pki.key),
            ("client_ca", &pki.ca),
        ] {
            if tls.contains_key(field) {
                tls.insert(field.into(), Value::from(path.display().to_string()));
            }
        }
        let crl = Value::from(pki.crl.display().to_string());
        match tls.get_mut("crl") {
            Some(Value::Array(list)) => list.iter_mut().for_each(|path| *path = crl.clone()),
            Some(path) => *path = crl,
            None => {}
        }
    }
    for (field, file) in [
        ("registry", "registry.sqlite"),
        ("audit_log", "audit.jsonl"),
    ] {
        if let Some(path) = object.get_mut(field) {
            *path = Value::from(dir.join(file).display().to_string());
        }
    }
    if let Some(url) = object.get_mut("database") {
        let text = url.as_str().ok_or("\"database\" is a URL string")?;
        *url = Value::from(unreachable_database(text, &pki.ca)?);
        stops_at = stops_at.or(Some(&["error: database", "cannot connect"]));
    }
    Ok((env, stops_at))
}

/// Keys anywhere in the configuration (the master, previous masters, the initial key): a
/// placeholder key gets random hex digits, a placeholder check value random ones too, and a
/// key in a PKCS#11 token its PIN and an empty SoftHSMv2 token directory, so that the server
/// gets as far as looking for the token.
fn localize_keys(
    field: &str,
    value: &mut Value,
    dir: &Path,
    env: &mut Env,
    stops_at: &mut Option<StopsAt>,
) -> Result<(), String> {
    let key_field = matches!(field, "initial_admin_key" | "diversification_key" | "key");
    match value {
        Value::String(_) if key_field && is_placeholder(value) => {
            *value = Value::from(random_hex(key_hex_len(None) / 2));
        }
        Value::Array(items) => {
            for item in items {
                localize_keys(field, item, dir, env, stops_at)?;
            }
        }
        Value::Object(map) => {
            if map.get("key").is_some_and(is_placeholder) {
                let len = key_hex_len(map.get("algorithm").and_then(Value::as_str));
                map.insert("key".into(), Value::from(random_hex(len / 2)));
            }
            if let Some(pkcs11) = map.get_mut("pkcs11").and_then(Value::as_object_mut) {
                *stops_at = Some(&["error:", "PKCS#11"]);
                if pkcs11.get("check_value").is_some_and(is_placeholder) {
                    pkcs11.insert("check_value".into(), Value::from(random_hex(3)));
                }
                if let Some(var) = pkcs11.get("pin_env").and_then(Value::as_str) {
                    env.push((var.to_owned(), "123456".to_owned()));
                }
                if pkcs11.contains_key("pin_file") {
                    let pin = dir.join("token.pin");
                    fs::write(&pin, "123456\n").map_err(|err| err.to_string())?;
                    pkcs11.insert("pin_file".into(), Value::from(pin.display().to_string()));
                }
                let tokens = dir.join("tokens");
                fs::create_dir_all(&tokens).map_err(|err| err.to_string())?;
                let conf = dir.join("softhsm2.conf");
                fs::write(
                    &conf,
                    format!(
                        "directories.tokendir = {}\nobjectstore.backend = file\n",
                        tokens.display()
                    ),
                )
                .map_err(|err| err.to_string())?;
                env.push(("SOFTHSM2_CONF".into(), conf.display().to_string()));
            }
            for (inner, item) in map.iter_mut() {
                if inner != "pkcs11" {
                    localize_keys(inner, item, dir, env, stops_at)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The database URL with its host and port replaced by a loopback port nothing listens on, and
/// its `sslrootcert` by a file that exists: the server reads the whole configuration and then
/// fails to reach the database.
fn unreachable_database(url: &str, ca: &Path) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("database URL without a scheme: {url}"))?;
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    let port = free_port()?;
    let tail: String = match tail.split_once('?') {
        Some((database, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("sslrootcert", _)) => format!("sslrootcert={}", ca.display()),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{database}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    Ok(format!("{scheme}://{user}127.0.0.1:{port}/{tail}"))
}

static NEXT_PORT: AtomicU16 = AtomicU16::new(PORTS.0);

/// A loopback port of [`PORTS`] nothing listens on now, each call starting after the last.
fn free_port() -> Result<u16, String> {
    for _ in PORTS.0..=PORTS.1 {
        let port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        if port >= PORTS.1 {
            NEXT_PORT.store(PORTS.0, Ordering::Relaxed);
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(format!("no free port in {}..={}", PORTS.0, PORTS.1))
}

/// Starts the server with the configuration file and waits until it listens, or, for a
/// configuration that needs a service this test does not run, until it stops with an error
/// holding every word of `stops_at` (reading the whole configuration comes first). The server
/// is stopped either way.
fn server_starts(
    config: &Path,
    dir: &Path,
    env: &[(String, String)],
    stops_at: Option<&[&str]>,
) -> Result<(), String> {
    let port = free_port()?;
    let stderr_path = dir.join("server.stderr");
    let stderr = fs::File::create(&stderr_path).map_err(|err| err.to_string())?;
    let mut child = Command::new(SERVER)
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(dir)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|err| format!("cannot run {SERVER}: {err}"))?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(60);
    let outcome = loop {
        if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            if stops_at.is_some_and(|error| error.iter().all(|part| stderr.contains(part))) {
                break Ok(());
            }
            break Err(format!(
                "the server exited ({status}) instead of listening; its stderr:\n{stderr}"
            ));
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            break Ok(());
        }
        if Instant::now() > deadline {
            break Err("the server did not listen within 60 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// Writes a configuration readable by its owner only (as a configuration with key bytes is).
fn write_config(path: &Path, config: &Value) -> Result<(), String> {
    fs::write(path, serde_json::to_string_pretty(config).unwrap())
        .map_err(|err| err.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

/// The configuration snippet for the check: a PIN policy goes into a configuration.
fn configuration_text(snippet: &Snippet) -> Result<Value, String> {
    let value: Value = match serde_json::from_str(&snippet.text) {
        Ok(value) => value,
        // A fragment (`"diversification_key": {...}`): fields of a configuration, checked in
        // a deployment's (the initial admin key, "tls" and a "registry" added where absent),
        // as the fragments show changes to one (a master in a token, a master rotation).
        Err(err) => match serde_json::from_str::<Value>(&format!("{{{}}}", snippet.text)) {
            Ok(Value::Object(mut fields)) => {
                fields
                    .entry("initial_admin_key")
                    .or_insert_with(|| Value::from("0".repeat(48)));
                fields.entry("tls").or_insert_with(|| {
                    serde_json::json!({"cert": "server.pem", "key": "server.key", "client_ca": "ca.pem"})
                });
                fields
                    .entry("registry")
                    .or_insert_with(|| Value::from("registry.sqlite"));
                Value::Object(fields)
            }
            _ => return Err(format!("not JSON ({err}); if this block is not a server configuration, put `{NOT_A_CONFIGURATION}` on the line before it")),
        },
    };
    if snippet.pin_policy_only {
        return Ok(serde_json::json!({
            "initial_admin_key": "000000000000000000000000000000000000000000000000",
            "pin_policy": value,
        }));
    }
    Ok(value)
}

#[test]
fn every_readme_configuration_starts_the_server() {
    let (snippets, mut problems) = configuration_snippets();
    assert!(
        snippets.len() >= 3,
        "found only {} configuration snippets: is the Markdown parsing broken?",
        snippets.len()
    );
    let work = tempfile::Builder::new()
        .prefix("readme-snippets-")
        .tempdir()
        .unwrap();
    let pki_dir = work.path().join("pki");
    fs::create_dir_all(&pki_dir).unwrap();
    let pki = Pki::new(&pki_dir);
    for (index, snippet) in snippets.iter().enumerate() {
        let dir = work.path().join(format!("snippet-{index}"));
        fs::create_dir_all(&dir).unwrap();
        let checked = configuration_text(snippet).and_then(|mut config| {
            let (env, stops_at) = localize(&mut config, &dir, &pki)?;
            let path = dir.join("config.json");
            if config.get("audit_file_id").is_some() && stops_at.is_none() {
                // The file id names a trail that exists: a first start without it makes the
                // trail, whose first line says its id.
                let mut first = config.clone();
                first.as_object_mut().unwrap().remove("audit_file_id");
                write_config(&path, &first)?;
                server_starts(&path, &dir, &env, None)?;
                let trail = config["audit_log"].as_str().unwrap_or_default();
                let head = fs::read_to_string(trail).map_err(|err| format!("{trail}: {err}"))?;
                let line: Value = serde_json::from_str(head.lines().next().unwrap_or_default())
                    .map_err(|err| format!("{trail}: first line: {err}"))?;
                config["audit_file_id"] = line["file_id"].clone();
            }
            write_config(&path, &config)?;
            server_starts(&path, &dir, &env, stops_at)
        });
        match checked {
            Ok(()) => eprintln!("ok: {} starts the server", snippet.origin),
            Err(err) => problems.push(format!("{}: {err}", snippet.origin)),
        }
    }
    assert!(
        problems.is_empty(),
        "configurations in the documentation that the server does not accept:\n{}",
        problems.join("\n")
    );
}

// == Commands =====================================================================================

/// What `cargo metadata` says about one workspace.
struct Workspace {
    packages: BTreeMap<String, Package>,
    members: Vec<String>,
    default_members: Vec<String>,
}

struct Package {
    manifest: PathBuf,
    features: BTreeSet<String>,
    /// (kind, name): `bin`, `example`, `test`, `bench`, `lib`.
    targets: Vec<(String, String)>,
    default_run: Option<String>,
}

impl Workspace {
    fn load(manifest: &Path) -> Result<Self, String> {
        let output = Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .arg("--manifest-path")
            .arg(manifest)
            .current_dir(repo_root())
            .output()
            .map_err(|err| format!("cargo metadata: {err}"))?;
        if !output.status.success() {
            return Err(format!(
                "cargo metadata --manifest-path {}: {}",
                manifest.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut packages = BTreeMap::new();
        let mut ids = BTreeMap::new();
        for package in metadata["packages"].as_array().unwrap() {
            let name = package["name"].as_str().unwrap().to_owned();
            ids.insert(package["id"].as_str().unwrap().to_owned(), name.clone());
            let targets = package["targets"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|target| {
                    let name = target["name"].as_str().unwrap().to_owned();
                    target["kind"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(move |kind| (kind.as_str().unwrap().to_owned(), name.clone()))
                })
                .collect();
            packages.insert(
                name,
                Package {
                    manifest: PathBuf::from(package["manifest_path"].as_str().unwrap()),
                    features: package["features"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .cloned()
                        .collect(),
                    targets,
                    default_run: package["default_run"].as_str().map(str::to_owned),
                },
            );
        }
        let names = |field: &str| -> Vec<String> {
            metadata[field]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|id| ids.get(id.as_str().unwrap()).cloned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let members = names("workspace_members");
        let mut default_members = names("workspace_default_members");
        if default_members.is_empty() {
            default_members = members.clone();
        }
        Ok(Self {
            packages,
            members,
            default_members,
        })
    }

    /// Every binary and example of the workspace: name → (kind, package).
    fn programs(&self) -> BTreeMap<String, (String, String)> {
        let mut out = BTreeMap::new();
        for (package, data) in &self.packages {
            for (kind, name) in &data.targets {
                if kind == "bin" || kind == "example" {
                    out.insert(name.clone(), (kind.clone(), package.clone()));
                }
            }
        }
        out
    }
}

/// The usage texts of the workspace's programs, read from the binaries this test run built.
struct Usage {
    dir: PathBuf,
    cache: BTreeMap<(PathBuf, Vec<String>), String>,
    not_built: BTreeSet<String>,
    work: tempfile::TempDir,
}

impl Usage {
    fn new() -> Self {
        Self {
            dir: Path::new(SERVER).parent().unwrap().to_owned(),
            cache: BTreeMap::new(),
            not_built: BTreeSet::new(),
            work: tempfile::Builder::new()
                .prefix("readme-usage-")
                .tempdir()
                .unwrap(),
        }
    }

    fn binary(&self, kind: &str, name: &str) -> PathBuf {
        let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
        if kind == "example" {
            self.dir.join("examples").join(file)
        } else {
            self.dir.join(file)
        }
    }

    /// `PROGRAM --help`, and `PROGRAM WORDS... --help` for each leading run of the command
    /// words, stdout and stderr together; `None` when the run did not build the program.
    fn text(&mut self, kind: &str, name: &str, words: &[String]) -> Option<String> {
        let binary = self.binary(kind, name);
        if !binary.is_file() {
            self.not_built.insert(format!("{kind} {name}"));
            return None;
        }
        if !is_fresh(&binary) {
            self.not_built.insert(format!(
                "{kind} {name} (built before its sources last changed)"
            ));
            return None;
        }
        let mut text = String::new();
        for count in 0..=words.len() {
            let key = (binary.clone(), words[..count].to_vec());
            if !self.cache.contains_key(&key) {
                let output = run_with_timeout(
                    Command::new(&binary)
                        .args(&words[..count])
                        .arg("--help")
                        .current_dir(self.work.path()),
                );
                self.cache.insert(key.clone(), output);
            }
            text.push_str(&self.cache[&key]);
            text.push('\n');
        }
        Some(text)
    }
}

/// Whether the binary is newer than every source file cargo's dep-info (`NAME.d` beside it)
/// lists, documentation aside (the core's docs are its README, and no README changes a usage
/// text): a binary left from an older build would show an older usage.
fn is_fresh(binary: &Path) -> bool {
    let Ok(dep_info) = fs::read_to_string(binary.with_extension("d")) else {
        return true;
    };
    let Ok(built) = fs::metadata(binary).and_then(|meta| meta.modified()) else {
        return false;
    };
    let Some((_, sources)) = dep_info
        .lines()
        .next()
        .and_then(|line| line.split_once(": "))
    else {
        return true;
    };
    sources
        .replace("\\ ", "\u{0}")
        .split(' ')
        .filter(|source| !source.is_empty() && !source.ends_with(".md"))
        .all(|source| {
            fs::metadata(source.replace('\u{0}', " "))
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified <= built)
        })
}

/// A program's stdout and stderr, with no input, stopped after 20 s.
fn run_with_timeout(command: &mut Command) -> String {
    let work = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (work.path().join("out"), work.path().join("err"));
    let child = command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn();
    let Ok(mut child) = child else {
        return String::new();
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    fs::read_to_string(out_path).unwrap_or_default()
        + &fs::read_to_string(err_path).unwrap_or_default()
}

/// Whether `option` (`--name` or `-x`) stands in `text` as a word of its own.
fn mentions_option(text: &str, option: &str) -> bool {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(option).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + option.len()..].chars().next();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    })
}

/// A value written in capitals (`NAME`, `HEX`), or through a variable: a placeholder.
fn is_placeholder_word(word: &str) -> bool {
    word.contains('$')
        || word.contains('<')
        || (word.chars().any(|c| c.is_ascii_uppercase())
            && word
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
}

/// An option as written (`[--reader`, `--key=HEX`, `--all-features]`), as its bare name.
fn option_name(word: &str) -> Option<String> {
    let word = word.trim_matches(|c| matches!(c, '[' | ']' | ',' | '(' | ')'));
    let word = word.split('=').next().unwrap_or(word);
    let word = word.split('|').next().unwrap_or(word);
    (word.starts_with('-') && word.len() > 1 && word != "--" && !word.starts_with("---"))
        .then(|| word.to_owned())
}

/// Checks the options of one program invocation against its usage text.
fn check_program_options(
    usage: &mut Usage,
    kind: &str,
    name: &str,
    args: &[String],
) -> Result<(), String> {
    // The command words (`requests add`), up to the first option after them.
    // A word right after an option is taken as its value (`--algorithm tdes`).
    let mut words = Vec::new();
    let mut after_option = false;
    for arg in args {
        let arg = arg.trim_matches(|c| c == '[' || c == ']');
        if arg.starts_with('-') {
            if !words.is_empty() {
                break;
            }
            after_option = true;
            continue;
        }
        if std::mem::take(&mut after_option) {
            continue;
        }
        if arg
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
            && arg.starts_with(|c: char| c.is_ascii_lowercase())
        {
            words.push(arg.to_owned());
        } else if !words.is_empty() || !is_placeholder_word(arg) {
            break;
        }
    }
    let Some(text) = usage.text(kind, name, &words) else {
        return Ok(());
    };
    let missing: Vec<String> = args
        .iter()
        .filter_map(|arg| option_name(arg))
        .filter(|option| !mentions_option(&text, option))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        let command: Vec<&str> = std::iter::once(name)
            .chain(words.iter().map(String::as_str))
            .collect();
        let command = command.join(" ");
        Err(format!(
            "{command}: {} not in its usage text (`{command} --help`)",
            missing.join(", ")
        ))
    }
}

/// The cargo options this check understands, and whether each takes a value.
const CARGO_OPTIONS: &[(&str, bool)] = &[
    ("-p", true),
    ("--package", true),
    ("--manifest-path", true),
    ("--example", true),
    ("--bin", true),
    ("--test", true),
    ("--bench", true),
    ("--features", true),
    ("-F", true),
    ("--exclude", true),
    ("--target", true),
    ("--target-dir", true),
    ("--profile", true),
    ("-j", true),
    ("--jobs", true),
    ("--color", true),
    ("--message-format", true),
    ("--config", true),
    ("-Z", true),
    ("--release", false),
    ("-r", false),
    ("--all-features", false),
    ("--no-default-features", false),
    ("--workspace", false),
    ("--all", false),
    ("--locked", false),
    ("--offline", false),
    ("--frozen", false),
    ("-q", false),
    ("--quiet", false),
    ("-v", false),
    ("-vv", false),
    ("--verbose", false),
    ("--lib", false),
    ("--bins", false),
    ("--examples", false),
    ("--tests", false),
    ("--benches", false),
    ("--all-targets", false),
    ("--doc", false),
    ("--no-run", false),
    ("--no-fail-fast", false),
    ("--keep-going", false),
    ("--timings", false),
];

/// Checks one `cargo run|build|test|bench` command line (the words after `cargo`), run from
/// `cwd` (the folder of the workspace it addresses).
fn check_cargo(
    args: &[String],
    cwd: &Path,
    workspaces: &mut BTreeMap<PathBuf, Workspace>,
    usage: &mut Usage,
) -> Result<(), String> {
    let Some((subcommand, rest)) = args.split_first() else {
        return Ok(());
    };
    if !matches!(subcommand.as_str(), "run" | "build" | "test" | "bench") {
        return Ok(());
    }
    let mut packages = Vec::new();
    let mut manifest = None;
    let mut targets: Vec<(&str, String)> = Vec::new();
    let mut features = Vec::new();
    let mut workspace_wide = false;
    let mut program_args: &[String] = &[];
    let mut i = 0;
    while i < rest.len() {
        let word = &rest[i];
        if word == "--" {
            program_args = &rest[i + 1..];
            break;
        }
        let (option, inline_value) = match word.split_once('=') {
            Some((option, value)) if option.starts_with('-') => (option, Some(value.to_owned())),
            _ => (word.as_str(), None),
        };
        if !option.starts_with('-') {
            if subcommand == "build" || subcommand == "run" {
                return Err(format!("cargo {subcommand}: unexpected argument {word:?}"));
            }
            i += 1; // a test name filter
            continue;
        }
        let Some(&(_, takes_value)) = CARGO_OPTIONS.iter().find(|(name, _)| *name == option) else {
            return Err(format!(
                "cargo {subcommand}: option {option} is not one this check knows (a typo? else add it to CARGO_OPTIONS)"
            ));
        };
        let value = if takes_value {
            match inline_value {
                Some(value) => Some(value),
                None => {
                    i += 1;
                    Some(
                        rest.get(i)
                            .cloned()
                            .ok_or_else(|| format!("cargo {subcommand}: {option} needs a value"))?,
                    )
                }
            }
        } else {
            None
        };
        let value = value.unwrap_or_default();
        match option {
            "-p" | "--package" => packages.push(value),
            "--manifest-path" => manifest = Some(value),
            "--example" => targets.push(("example", value)),
            "--bin" => targets.push(("bin", value)),
            "--test" => targets.push(("test", value)),
            "--bench" => targets.push(("bench", value)),
            "--features" | "-F" => features.extend(
                value
                    .split([',', ' '])
                    .filter(|feature| !feature.is_empty())
                    .map(str::to_owned),
            ),
            "--workspace" | "--all" => workspace_wide = true,
            _ => {}
        }
        i += 1;
    }

    let manifest_path = match &manifest {
        Some(path) => cwd.join(path),
        None => cwd.join("Cargo.toml"),
    };
    if !manifest_path.is_file() {
        return Err(format!("no manifest {}", manifest_path.display()));
    }
    let manifest_path = manifest_path.canonicalize().unwrap();
    if !workspaces.contains_key(&manifest_path) {
        workspaces.insert(manifest_path.clone(), Workspace::load(&manifest_path)?);
    }
    let workspace = &workspaces[&manifest_path];
    let selected: Vec<String> = if !packages.is_empty() {
        for package in &packages {
            if !workspace.packages.contains_key(package) {
                return Err(format!(
                    "no package {package} (the workspace has {})",
                    workspace.members.join(", ")
                ));
            }
        }
        packages.clone()
    } else if manifest.is_some() && !workspace_wide {
        let own: Vec<String> = workspace
            .packages
            .iter()
            .filter(|(_, package)| package.manifest == manifest_path)
            .map(|(name, _)| name.clone())
            .collect();
        if own.is_empty() {
            // A virtual manifest: its default members.
            workspace.default_members.clone()
        } else {
            own
        }
    } else if workspace_wide {
        workspace.members.clone()
    } else {
        workspace.default_members.clone()
    };
    for (kind, name) in &targets {
        if is_placeholder_word(name) {
            continue;
        }
        let found = selected.iter().any(|package| {
            workspace.packages[package]
                .targets
                .iter()
                .any(|(k, n)| k == kind && n == name)
        });
        if !found {
            return Err(format!(
                "no {kind} target {name} in {}",
                selected.join(", ")
            ));
        }
    }
    for feature in &features {
        let ok = match feature.split_once('/') {
            Some((package, feature)) => workspace
                .packages
                .get(package)
                .is_some_and(|data| data.features.contains(feature)),
            None => selected
                .iter()
                .any(|package| workspace.packages[package].features.contains(feature)),
        };
        if !ok {
            return Err(format!("no feature {feature} in {}", selected.join(", ")));
        }
    }
    if subcommand != "run" {
        return Ok(());
    }
    // The program `cargo run` runs, and the options it is given.
    let program = match targets
        .iter()
        .find(|(kind, _)| *kind == "bin" || *kind == "example")
    {
        Some((kind, name)) => Some((kind.to_string(), name.clone())),
        None => match selected.as_slice() {
            [package] => {
                let data = &workspace.packages[package];
                let bins: Vec<&String> = data
                    .targets
                    .iter()
                    .filter(|(kind, _)| kind == "bin")
                    .map(|(_, name)| name)
                    .collect();
                match (&data.default_run, bins.as_slice()) {
                    (Some(name), _) => Some(("bin".to_owned(), name.clone())),
                    (None, [name]) => Some(("bin".to_owned(), (*name).clone())),
                    _ => {
                        return Err(format!(
                            "cargo run -p {package}: which binary? (no --bin, no default-run)"
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                    "cargo run with {} packages selected and no --bin or --example",
                    selected.len()
                ))
            }
        },
    };
    match program {
        // Only the root workspace's programs are in the target directory this test sees.
        Some((kind, name))
            if !is_placeholder_word(&name)
                && workspace.packages.contains_key("cardadmin-server") =>
        {
            check_program_options(usage, &kind, &name, program_args)
        }
        _ => Ok(()),
    }
}

/// Wrappers a README puts before a command (`time`, `taskset -c 0`, `nsenter --net=...`).
fn strip_wrappers(mut words: &[String]) -> &[String] {
    loop {
        while words.first().is_some_and(|word| is_assignment(word)) {
            words = &words[1..];
        }
        let Some(first) = words.first() else {
            return words;
        };
        let takes_value: &[&str] = match first.rsplit('/').next().unwrap_or(first) {
            "time" | "exec" | "nohup" | "sudo" | "env" | "setsid" | "command" => &[],
            "nice" => &["-n"],
            "taskset" => &["-c", "-p"],
            "timeout" | "nsenter" | "unshare" | "stdbuf" | "ionice" => &[],
            _ => return words,
        };
        let wrapper = first.rsplit('/').next().unwrap_or(first).to_owned();
        words = &words[1..];
        let mut positional_taken = false;
        while let Some(word) = words.first() {
            if word.starts_with('-') {
                words = &words[1..];
                if takes_value.contains(&word.as_str()) && !words.is_empty() {
                    words = &words[1..];
                    positional_taken = true;
                }
            } else if (wrapper == "taskset" || wrapper == "timeout") && !positional_taken {
                words = &words[1..];
                positional_taken = true;
            } else {
                break;
            }
        }
    }
}

/// Checks one simple command (words unquoted): a cargo command, or one of the workspace's
/// programs run directly.
/// `...` in a command line stands for words left out.
fn is_elision(word: &str) -> bool {
    matches!(word, "..." | "\u{2026}")
}

fn check_command(
    words: &[String],
    cwd: &Path,
    workspaces: &mut BTreeMap<PathBuf, Workspace>,
    programs: &BTreeMap<String, (String, String)>,
    usage: &mut Usage,
) -> Result<bool, String> {
    let words: Vec<String> = strip_wrappers(words)
        .iter()
        .filter(|word| !is_elision(word))
        .cloned()
        .collect();
    let Some((first, args)) = words.split_first() else {
        return Ok(false);
    };
    if first == "cargo" {
        check_cargo(args, cwd, workspaces, usage)?;
        return Ok(args
            .first()
            .is_some_and(|sub| matches!(sub.as_str(), "run" | "build" | "test" | "bench")));
    }
    let base = first.rsplit('/').next().unwrap_or(first);
    let Some((kind, _)) = programs.get(base) else {
        return Ok(false);
    };
    let by_path = first.starts_with("target/") || first.starts_with("./target/");
    let direct = match kind.as_str() {
        "bin" => !first.contains('/') || by_path,
        _ => by_path && first.contains("/examples/"),
    };
    if !direct {
        return Ok(false);
    }
    check_program_options(usage, kind, base, args)?;
    Ok(true)
}

#[test]
fn every_readme_command_names_what_exists_and_options_the_binaries_take() {
    let root = repo_root();
    let mut workspaces = BTreeMap::new();
    let root_manifest = root.join("Cargo.toml").canonicalize().unwrap();
    workspaces.insert(
        root_manifest.clone(),
        Workspace::load(&root_manifest).unwrap(),
    );
    let programs = workspaces[&root_manifest].programs();
    let mut usage = Usage::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let name = relative(&doc);
        // A README of a Cargo project outside the workspace (fuzz/, ctcheck/) runs its
        // commands there; the others from the repository root.
        let folder = doc.parent().unwrap();
        let cwd = if folder.join("Cargo.toml").is_file()
            && !workspaces[&root_manifest]
                .packages
                .values()
                .any(|package| package.manifest.parent() == Some(&folder.canonicalize().unwrap()))
        {
            folder.to_owned()
        } else {
            root.clone()
        };
        let text = fs::read_to_string(&doc).unwrap();
        let (blocks, prose) = parse_markdown(&text);
        let mut commands: Vec<(usize, Vec<String>)> = Vec::new();
        for block in &blocks {
            if !(is_shell(&block.info) || block.info == "text") {
                continue;
            }
            match logical_lines(&block.body, block.line, block.info == "text") {
                Ok(lines) => {
                    for logical in lines {
                        for (words, _, _) in simple_commands(&logical.tokens) {
                            commands.push((logical.line, words));
                        }
                    }
                }
                Err(err) => problems.push(format!("{name}: {err}")),
            }
        }
        for (line, span) in inline_spans(&prose) {
            // `cargo run` alone names the command, it is not a command line.
            if span.split_whitespace().count() < 3 {
                continue;
            }
            let Ok(tokens) = lex(&span) else {
                continue;
            };
            for (words, _, _) in simple_commands(&tokens) {
                commands.push((line, words));
            }
        }
        for (line, words) in commands {
            let words: Vec<String> = words.iter().map(|word| unquote(word)).collect();
            match check_command(&words, &cwd, &mut workspaces, &programs, &mut usage) {
                Ok(true) => checked += 1,
                Ok(false) => {}
                Err(err) => problems.push(format!("{name}:{line}: `{}`: {err}", words.join(" "))),
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} commands found in the documentation: is the parsing broken?"
    );
    if !usage.not_built.is_empty() {
        let list: Vec<String> = usage.not_built.iter().cloned().collect();
        eprintln!(
            "not checked (not built, or built before their sources last changed, so their usage text is unknown): {}",
            list.join(", ")
        );
        if std::env::var_os("CARDADMIN_README_REQUIRE_BINARIES").is_some_and(|v| v == "1") {
            problems.push(format!(
                "CARDADMIN_README_REQUIRE_BINARIES=1 and not built: {}",
                list.join(", ")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "commands in the documentation that do not match the workspace:\n{}",
        problems.join("\n")
    );
}

// == Repository-wide promises =====================================================================

/// 48 hex digits that follow `prefix` in `text`, each occurrence.
fn hex_keys_after(text: &str, prefix: &str) -> Vec<String> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let key: String = text[at + prefix.len()..].chars().take(48).collect();
            (key.len() == 48 && key.chars().all(|c| c.is_ascii_hexdigit())).then_some(key)
        })
        .collect()
}

#[test]
fn one_example_master_across_readme_example_and_server_configuration() {
    let root = repo_root();
    let config: Value = serde_json::from_str(
        &fs::read_to_string(root.join("apps/server/config.example.json")).unwrap(),
    )
    .unwrap();
    let master = config["diversification_key"]
        .as_str()
        .expect("config.example.json has a master in hex")
        .to_ascii_uppercase();
    let mut problems = Vec::new();
    let mut found = 0;
    for (file, prefixes) in [
        (
            "README.md",
            &["MasterKey::from_hex(\"", "\"diversification_key\": \""][..],
        ),
        ("examples/mim_cm.rs", &["MasterKey::from_hex(\""][..]),
    ] {
        let text = fs::read_to_string(root.join(file)).unwrap();
        let keys: Vec<String> = prefixes
            .iter()
            .flat_map(|prefix| hex_keys_after(&text, prefix))
            .collect();
        if keys.is_empty() {
            problems.push(format!("{file}: no example master found"));
        }
        for key in keys {
            found += 1;
            if key.to_ascii_uppercase() != master {
                problems.push(format!(
                    "{file}: example master {key}, but apps/server/config.example.json's is {master}"
                ));
            }
        }
    }
    // Where the README's ceremony types the example master as two custodians' components
    // (literal hex), they must combine to it.
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let components = readme.find("--components 2").and_then(|at| {
        let before = &readme[..at];
        let start = before.rfind("printf '")? + "printf '".len();
        let parts: Vec<&str> = before[start..]
            .split("\\ny\\n")
            .filter(|part| part.len() == 48 && part.chars().all(|c| c.is_ascii_hexdigit()))
            .collect();
        (parts.len() == 2).then_some(parts)
    });
    if let Some(parts) = components {
        let xor: String = (0..24)
            .map(|i| {
                let byte = |part: &str| u8::from_str_radix(&part[2 * i..2 * i + 2], 16).unwrap();
                format!("{:02X}", byte(parts[0]) ^ byte(parts[1]))
            })
            .collect();
        if xor != master {
            problems.push(format!(
                "README.md: the ceremony's components combine to {xor}, not config.example.json's master {master}"
            ));
        }
    }
    assert!(found >= 3, "only {found} example masters found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_documentation_cites_a_design_file_that_does_not_ship() {
    // Spelled in two parts so that this file does not cite it either.
    let design = ["DESIGN", ".md"].concat();
    let missing = !repo_root().join(&design).exists();
    let mut problems = Vec::new();
    for file in repo_files(&|name| name.ends_with(".md") || name.ends_with(".rs")) {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            if missing && line.contains(&design) {
                problems.push(format!(
                    "{}:{}: {}",
                    relative(&file),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{design} is not in the repository, so a reader cannot follow these; cite the crate docs or ARCHITECTURE.md:\n{}",
        problems.join("\n")
    );
}

/// The source with comments, string and character literals blanked out.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && matches!(next, Some('"' | '#'))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..." or r#"..."#.
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            if chars.get(i + 1 + hashes) == Some(&'"') {
                i += 2 + hashes;
                while i < chars.len() {
                    if chars[i] == '"'
                        && chars[i + 1..]
                            .iter()
                            .take(hashes)
                            .filter(|c| **c == '#')
                            .count()
                            == hashes
                    {
                        i += 1 + hashes;
                        break;
                    }
                    i += 1;
                }
                out.push_str("\"\"");
            } else {
                out.push(c);
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or a lifetime (kept).
            let close = if next == Some('\\') {
                chars[i + 3..]
                    .iter()
                    .position(|c| *c == '\'')
                    .map(|at| i + 3 + at)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether the code (comments and literals blanked) uses the `unsafe` keyword.
fn uses_unsafe(code: &str) -> bool {
    let keyword = ["un", "safe"].concat();
    code.match_indices(&keyword).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return false;
        }
        let after = code[at + keyword.len()..].trim_start();
        after.starts_with('{')
            || ["fn", "impl", "trait", "extern"].iter().any(|next| {
                after.starts_with(next)
                    && !after[next.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
    })
}

#[test]
fn every_file_with_unsafe_code_is_named_in_architecture_md() {
    let architecture = fs::read_to_string(repo_root().join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md at the repository root");
    let mut with_unsafe = Vec::new();
    for file in repo_files(&|name| name.ends_with(".rs")) {
        let source = fs::read_to_string(&file).unwrap_or_default();
        if uses_unsafe(&code_only(&source)) {
            with_unsafe.push(relative(&file));
        }
    }
    assert!(
        with_unsafe
            .iter()
            .any(|file| file == "crates/pkcs11/src/raw.rs"),
        "the scan missed the PKCS#11 call: {with_unsafe:?}"
    );
    let unnamed: Vec<&String> = with_unsafe
        .iter()
        .filter(|file| !architecture.contains(file.as_str()))
        .collect();
    assert!(
        unnamed.is_empty(),
        "files with unsafe code that ARCHITECTURE.md's invariants do not name (say why they need it there, or remove it): {unnamed:?}"
    );
}

#[test]
fn the_root_readme_links_every_crates_readme() {
    let root = repo_root();
    let manifest = root.join("Cargo.toml").canonicalize().unwrap();
    let workspace = Workspace::load(&manifest).unwrap();
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    let mut problems = Vec::new();
    for member in &workspace.members {
        let dir = workspace.packages[member]
            .manifest
            .parent()
            .unwrap()
            .to_owned();
        if dir == root {
            continue;
        }
        let folder = relative(&dir);
        if !dir.join("README.md").is_file() {
            problems.push(format!("{member}: no {folder}/README.md"));
        }
        if !readme.contains(&format!("({folder}/README.md)")) {
            problems.push(format!(
                "README.md does not link {folder}/README.md ({member})"
            ));
        }
        if !architecture.contains(&format!("`{member}`")) {
            problems.push(format!("ARCHITECTURE.md does not name {member}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_crate_docs_are_the_readme() {
    let lib = fs::read_to_string(repo_root().join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("doc = include_str!(\"../README.md\")"),
        "src/lib.rs does not take its docs from README.md"
    );
    let written_twice: Vec<&str> = lib.lines().filter(|line| line.starts_with("//!")).collect();
    assert!(
        written_twice.is_empty(),
        "src/lib.rs has crate docs of its own beside the README's ({} lines)",
        written_twice.len()
    );
}

/// Whether a text holds 32 or more hex digits in a row (key bytes, not a check value).
fn holds_key_hex(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run >= 32 {
            return true;
        }
    }
    false
}

#[test]
fn recipes_set_umask_before_writing_key_bytes() {
    let mut problems = Vec::new();
    for doc in documents() {
        let name = relative(&doc);
        let (blocks, _) = parse_markdown(&fs::read_to_string(&doc).unwrap());
        for block in blocks.iter().filter(|block| is_shell(&block.info)) {
            let Ok(lines) = logical_lines(&block.body, block.line, false) else {
                continue; // reported by the other tests
            };
            let mut shell = Shell::default();
            let mut umask = false;
            for logical in &lines {
                let _ = shell.run(std::slice::from_ref(logical));
                for (words, target, _) in simple_commands(&logical.tokens) {
                    let words: Vec<String> = words.iter().map(|word| unquote(word)).collect();
                    if words.len() == 2 && words[0] == "umask" && words[1] == "077" {
                        umask = true;
                    }
                    let target = target.map(|target| shell.expand(&target).unwrap_or(target));
                    let writes_key = words.iter().any(|word| word == "-keyout")
                        || target.as_deref().is_some_and(|target| {
                            target.ends_with(".key")
                                || shell
                                    .files
                                    .get(target)
                                    .is_some_and(|(_, text)| holds_key_hex(text))
                        });
                    if writes_key && !umask {
                        problems.push(format!(
                            "{name}:{}: writes key bytes without `umask 077` before it in the block",
                            logical.line
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn root_readme_recipes_name_paths_and_ports_once() {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let (blocks, _) = parse_markdown(&readme);
    let mut problems = Vec::new();
    for block in blocks.iter().filter(|block| is_shell(&block.info)) {
        let lines = logical_lines(&block.body, block.line, false).unwrap();
        for logical in &lines {
            for (words, target, _) in simple_commands(&logical.tokens) {
                if words.iter().all(|word| is_assignment(word)) {
                    continue; // where a variable gets its default
                }
                for word in words.iter().chain(target.iter()) {
                    let word = unquote(word);
                    let port = ["127.0.0.1:", "localhost:"].iter().any(|host| {
                        word.match_indices(host).any(|(at, _)| {
                            word[at + host.len()..].starts_with(|c: char| c.is_ascii_digit())
                        })
                    });
                    if word.contains("/tmp/") || port {
                        problems.push(format!(
                            "README.md:{}: {word:?}: a path or port written out; set it once (`DIR=${{DIR:-/tmp/...}}`, `PORT=...`) and use the variable",
                            logical.line
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_document_counts_one_thing_in_the_plural() {
    let mut problems = Vec::new();
    for doc in documents() {
        let text = fs::read_to_string(&doc).unwrap();
        for (number, line) in text.lines().enumerate() {
            for plural in ["1 lines", "1 requests", "1 keys", "1 tries", "1 cards"] {
                let found = line
                    .match_indices(plural)
                    .any(|(at, _)| !line[..at].ends_with(|c: char| c.is_ascii_digit() || c == '.'));
                if found {
                    problems.push(format!("{}:{}: {plural:?}", relative(&doc), number + 1));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
