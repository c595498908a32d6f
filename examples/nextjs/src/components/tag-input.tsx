"use client";
import { useId, useState, type KeyboardEvent } from "react";

import { limits, tagProblem } from "@/lib/limits";

import { XIcon } from "./icons";

/** Adds `tag` to `tags` unless one of the same name (ignoring case) is there. */
export function withTag(tags: string[], tag: string): string[] {
  const trimmed = tag.trim();
  if (tags.some((t) => t.toLowerCase() === trimmed.toLowerCase())) return tags;
  return [...tags, trimmed];
}

/**
 * A task's tags as chips, each with a button to remove it, and a field to
 * add one (Enter or a comma adds it; Backspace in the empty field removes
 * the last). Each tag is checked against the contract's rules as it is added.
 * `pending` is the text typed but not yet added: the form adds it on save.
 */
export function TagInput({
  tags,
  pending,
  onChange,
  suggestions = [],
  error,
}: {
  tags: string[];
  pending: string;
  /** Both at once: adding a tag moves the typed text into the tags. */
  onChange: (next: { tags: string[]; pending: string }) => void;
  suggestions?: string[];
  error?: string;
}) {
  const id = useId();
  const [problem, setProblem] = useState<string | null>(null);
  const message = problem ?? error ?? null;
  const full = tags.length >= limits.tagsPerTask;

  function add(text: string): boolean {
    if (text.trim() === "") return false;
    const why = tagProblem(text);
    if (why) {
      setProblem(why);
      return false;
    }
    if (full) {
      setProblem(`A task has at most ${limits.tagsPerTask} tags`);
      return false;
    }
    onChange({ tags: withTag(tags, text), pending: "" });
    setProblem(null);
    return true;
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "Enter" || event.key === ",") {
      if (pending.trim() !== "" || event.key === ",") event.preventDefault();
      add(pending);
    } else if (event.key === "Backspace" && pending === "" && tags.length > 0) {
      onChange({ tags: tags.slice(0, -1), pending });
    }
  }

  return (
    <div>
      <label className="label" htmlFor={id}>
        Tags
      </label>
      <div
        className={
          "flex min-h-10 flex-wrap items-center gap-1.5 rounded-lg border bg-white px-2 py-1.5 shadow-xs focus-within:border-brand-500 focus-within:ring-2 focus-within:ring-brand-100 " +
          (message ? "border-red-500" : "border-slate-300")
        }
      >
        <ul className="contents" aria-label="Tags on this task">
          {tags.map((tag) => (
            <li key={tag.toLowerCase()} className="chip bg-brand-50 text-brand-700" data-testid="tag-chip">
              <span className="truncate">{tag}</span>
              <button
                type="button"
                className="-mr-1 rounded-full p-0.5 hover:bg-brand-100"
                aria-label={`Remove tag ${tag}`}
                onClick={() => onChange({ tags: tags.filter((t) => t !== tag), pending })}
              >
                <XIcon className="size-3" />
              </button>
            </li>
          ))}
        </ul>
        <input
          id={id}
          className="min-w-24 flex-1 border-0 bg-transparent px-1 py-0.5 text-sm outline-none placeholder:text-slate-400 focus:outline-none"
          value={pending}
          maxLength={limits.tag}
          placeholder={full ? "" : tags.length ? "Add another" : "Add a tag"}
          list={suggestions.length ? `${id}-suggestions` : undefined}
          aria-invalid={message ? true : undefined}
          aria-describedby={message ? `${id}-error` : undefined}
          onChange={(e) => {
            setProblem(null);
            onChange({ tags, pending: e.target.value });
          }}
          onKeyDown={onKeyDown}
          onBlur={() => add(pending)}
          disabled={full}
        />
        {suggestions.length > 0 && (
          <datalist id={`${id}-suggestions`}>
            {suggestions.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        )}
      </div>
      {message && (
        <span id={`${id}-error`} className="field-error mt-1 block text-xs text-red-600">
          {message}
        </span>
      )}
    </div>
  );
}
