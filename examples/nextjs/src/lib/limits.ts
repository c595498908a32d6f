// The service's limits (the contract, /api/tasks), checked in the browser
// before a request is sent, so the user hears about them as they type.
export const limits = {
  /** Characters in a title, after trimming. */
  title: 200,
  /** Characters in a description. */
  description: 1000,
  /** Characters in one tag, after trimming. */
  tag: 40,
  /** Tags on one task. */
  tagsPerTask: 20,
  /** Characters in a search. */
  search: 200,
  /** Reminders on one task. */
  reminders: 5,
  /** A repeat's interval ("every N weeks"): the contract's INTERVAL. */
  repeatInterval: 999,
  /** "Ends after N times": the contract sets no top; the picker does. */
  repeatCount: 999,
} as const;

/** Characters as the service counts them: Unicode scalar values, not UTF-16 units. */
export function characters(text: string): number {
  return [...text].length;
}

/** Why a tag would be refused, or null when it is fine. */
export function tagProblem(tag: string): string | null {
  const trimmed = tag.trim();
  if (trimmed === "") return "A tag needs at least one character";
  if (characters(trimmed) > limits.tag) return `A tag has at most ${limits.tag} characters`;
  if (trimmed.includes(",")) return "A tag cannot contain a comma";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(trimmed)) return "A tag cannot contain control characters";
  return null;
}
