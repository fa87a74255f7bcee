/**
 * The path of a request URL as the service judges it (rate-limit budgets, hashing admission).
 * It must cover every spelling that reaches the same Better Auth route, so it starts where Better
 * Auth starts: the adapter hands Better Auth `new Request(origin + url)`, whose URL parser resolves
 * dot segments (`/./`, `/x/../`, `%2e`, `.%2E`) and turns backslashes into slashes. The result is
 * then normalised more loosely than any router would (percent-encoding, case, repeated and
 * trailing slashes), so that no spelling escapes a rule meant for its path.
 */
export function judgedPath(url: string): string {
  let path = url.split(/[?#]/, 1)[0]!;
  try {
    path = new URL(`http://judged.invalid${path}`).pathname;
  } catch {
    // not a path a URL parser accepts: judged as written
  }
  try {
    path = decodeURIComponent(path);
  } catch {
    // not decodable: judged as written
  }
  return path.toLowerCase().replace(/\/{2,}/g, "/").replace(/\/+$/, "");
}
