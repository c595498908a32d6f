// The package's entry point: the typed client, the token cache, the live-sync
// helpers, the offline queue, the tag helpers and the types generated from
// openapi.json.
export * from "./client.js";
export * from "./live.js";
export * from "./offline.js";
export * from "./tags.js";
export * from "./token.js";
export type { components, operations, paths } from "./generated/schema.js";
