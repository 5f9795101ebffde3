// The behaviour of the portcullis example app ("credentials-jwt"), written once and used by
// both reference servers (Auth.js v5 via @auth/core, and next-auth v4).
import { randomBytes } from "node:crypto";

export const BASE_PATH = "/api/auth";

export const CREDENTIAL_FIELDS = {
  username: { label: "Username", type: "text" },
  password: { label: "Password", type: "password" },
};

/** Accepts only alice/wonderland. The access token stays server-side (in the JWT only). */
export async function authorize(credentials) {
  if (credentials?.username === "alice" && credentials?.password === "wonderland") {
    return {
      id: "1",
      name: "Alice",
      email: "alice@example.com",
      role: "admin",
      access_token: `at-${randomBytes(8).toString("hex")}`,
    };
  }
  return null;
}

/** On sign-in copy id, role, access_token; on update copy only `name`. */
export async function jwt({ token, user, trigger, session }) {
  if (user) {
    token.id = user.id;
    token.role = user.role;
    token.access_token = user.access_token;
  }
  if (trigger === "update" && typeof session?.name === "string") {
    token.name = session.name;
  }
  return token;
}

/** Expose id and role, never the access token. */
export async function session({ session, token }) {
  session.user.id = token.id;
  session.user.role = token.role;
  return session;
}

export function requireSecret() {
  const secret = process.env.AUTH_SECRET;
  if (!secret) {
    console.error("AUTH_SECRET must be set");
    process.exit(2);
  }
  return secret;
}

/** Print the bound address in a fixed format the run script (and Rust tests) can parse. */
export function announce(server, label) {
  const { port } = server.address();
  console.log(`${label} listening on http://127.0.0.1:${port}${BASE_PATH}`);
}
