import { randomInt } from "node:crypto";

// Word lists for readable default run names ("adjective-noun-123"), in MLflow's style.
const ADJECTIVES = [
  "agile", "amber", "ample", "bold", "brave", "bright", "brisk", "calm", "clever", "crisp",
  "curious", "daring", "eager", "fair", "fancy", "fearless", "gentle", "glad", "golden", "grand",
  "handy", "happy", "honest", "humble", "jolly", "keen", "kind", "lively", "loyal", "lucid",
  "merry", "mighty", "nimble", "noble", "polite", "proud", "quick", "quiet", "rapid", "rare",
  "serene", "sharp", "shiny", "silent", "smart", "solid", "steady", "sunny", "swift", "tidy",
  "vivid", "warm", "wise", "witty", "zesty",
];
const NOUNS = [
  "ant", "badger", "bear", "bee", "bison", "carp", "cat", "colt", "crane", "crow",
  "deer", "dove", "eagle", "eel", "elk", "falcon", "finch", "fox", "frog", "goat",
  "hare", "hawk", "heron", "horse", "ibis", "jay", "koala", "lark", "lemur", "lion",
  "lynx", "mole", "moose", "newt", "otter", "owl", "panda", "pike", "quail", "ram",
  "robin", "seal", "shark", "snail", "sparrow", "squid", "stork", "swan", "tiger", "toad",
  "trout", "vole", "whale", "wolf", "wren", "yak", "zebra",
];

/** A readable run name such as `brisk-otter-417`. */
export function generateRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000)}`;
}
