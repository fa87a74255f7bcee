import { createHash, timingSafeEqual } from "node:crypto";

const digest = (value: string) => createHash("sha256").update(value).digest();

/**
 * Whether an `Authorization` header presents `expected` as a bearer token. Digests are compared,
 * so the comparison takes the same time whatever the presented token's length or content.
 */
export function bearerTokenCheck(expected: string): (authorization: string | undefined) => boolean {
  const expectedDigest = digest(expected);
  return (authorization) => {
    const presented = /^bearer /i.test(authorization ?? "") ? authorization!.slice(7) : undefined;
    return presented !== undefined && timingSafeEqual(digest(presented), expectedDigest);
  };
}
