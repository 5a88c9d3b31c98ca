/** The REST messages, defined once; the web UI may import them (type-only). */
export type * from "./traces.js";
