/**
 * The path of a request URL as the service judges it (rate-limit budgets, hashing admission):
 * normalised more loosely than any router would (percent-encoding, case, repeated and trailing
 * slashes), so that no spelling of a path escapes a rule meant for it.
 */
export function judgedPath(url: string): string {
  let path = url.split(/[?#]/, 1)[0]!;
  try {
    path = decodeURIComponent(path);
  } catch {
    // not decodable: judged as written
  }
  return path.toLowerCase().replace(/\/{2,}/g, "/").replace(/\/+$/, "");
}
