// Repeating tasks and reminders as a person picks and reads them, and as the
// service spells them: a rule is an RFC 5545 RRULE value in the contract's
// canonical form (`FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10`), a
// reminder a number of minutes before the task's due time.
import { limits } from "./limits";

export const frequencies = ["daily", "weekly", "monthly", "yearly"] as const;
export type Frequency = (typeof frequencies)[number];
export const weekdays = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"] as const;
export type Weekday = (typeof weekdays)[number];

export const weekdayNames: Record<Weekday, { short: string; long: string }> = {
  MO: { short: "Mon", long: "Monday" },
  TU: { short: "Tue", long: "Tuesday" },
  WE: { short: "Wed", long: "Wednesday" },
  TH: { short: "Thu", long: "Thursday" },
  FR: { short: "Fri", long: "Friday" },
  SA: { short: "Sat", long: "Saturday" },
  SU: { short: "Sun", long: "Sunday" },
};

const units: Record<Frequency, string> = { daily: "day", weekly: "week", monthly: "month", yearly: "year" };

/** The repeat picker's state. Numbers stay as typed ("" while being typed) until checked. */
export type Repeat = {
  /** "custom": a rule made elsewhere (the API) that the picker cannot show: kept as it is. */
  freq: "none" | Frequency | "custom";
  /** Every how many days, weeks, months or years. */
  interval: string;
  /** Weekly: on these days; none means the due date's weekday. */
  days: Weekday[];
  ends: "never" | "count" | "until";
  /** How many times in all. */
  count: string;
  /** The last day, `YYYY-MM-DD`, inclusive. */
  until: string;
  /** The rule as the service has it (for "custom"). */
  rule: string;
};

export const noRepeat: Repeat = { freq: "none", interval: "1", days: [], ends: "never", count: "10", until: "", rule: "" };

/** The weekday of a `YYYY-MM-DD` day. */
export function weekdayOf(day: string): Weekday | null {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  if (!y || !m || !d) return null;
  return weekdays[(new Date(y, m - 1, d).getDay() + 6) % 7] ?? null;
}

/** The canonical rule for the picker's state; null when the task does not repeat. */
export function ruleOf(repeat: Repeat): string | null {
  if (repeat.freq === "none") return null;
  if (repeat.freq === "custom") return repeat.rule;
  const parts = [`FREQ=${repeat.freq.toUpperCase()}`];
  const interval = Number(repeat.interval);
  if (interval > 1) parts.push(`INTERVAL=${interval}`);
  if (repeat.freq === "weekly" && repeat.days.length > 0) {
    parts.push(`BYDAY=${weekdays.filter((day) => repeat.days.includes(day)).join(",")}`);
  }
  if (repeat.ends === "count") parts.push(`COUNT=${Number(repeat.count)}`);
  if (repeat.ends === "until") parts.push(`UNTIL=${repeat.until.replaceAll("-", "")}`);
  return parts.join(";");
}

/** A rule's parts by name (upper case), or null when it is not `NAME=VALUE;…`. */
function partsOf(rule: string): Map<string, string> | null {
  const parts = new Map<string, string>();
  for (const part of rule.split(";")) {
    const [name, value, extra] = part.split("=");
    if (!name || value === undefined || extra !== undefined) return null;
    parts.set(name.toUpperCase(), value.toUpperCase());
  }
  return parts;
}

/** The picker's state for a task's rule: what the picker cannot show comes back as "custom". */
export function repeatOf(rule: string | null | undefined): Repeat {
  if (!rule) return noRepeat;
  const custom: Repeat = { ...noRepeat, freq: "custom", rule };
  const parts = partsOf(rule);
  const freq = parts?.get("FREQ")?.toLowerCase();
  if (!parts || !frequencies.includes(freq as Frequency)) return custom;
  const repeat: Repeat = { ...noRepeat, freq: freq as Frequency };
  for (const [name, value] of parts) {
    if (name === "FREQ") continue;
    else if (name === "INTERVAL" && /^\d+$/.test(value)) repeat.interval = String(Number(value));
    else if (name === "BYDAY" && freq === "weekly" && value.split(",").every((d) => weekdays.includes(d as Weekday))) {
      repeat.days = value.split(",") as Weekday[];
    } else if (name === "COUNT" && /^\d+$/.test(value)) {
      repeat.ends = "count";
      repeat.count = String(Number(value));
    } else if (name === "UNTIL" && /^\d{8}$/.test(value)) {
      repeat.ends = "until";
      repeat.until = `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
    } else return custom; // BYMONTHDAY, ordinal days, an UNTIL instant…
  }
  return repeat;
}

const ordinalWords: Record<string, string> = {
  "1": "first",
  "2": "second",
  "3": "third",
  "4": "fourth",
  "5": "fifth",
  "-1": "last",
  "-2": "second-to-last",
  "-3": "third-to-last",
  "-4": "fourth-to-last",
  "-5": "fifth-to-last",
};

/** 1st, 2nd, 3rd, 4th, 11th, 22nd… */
function nth(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] ?? "th");
  return `${n}${suffix}`;
}

/** "a, b and c" */
function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** `2027-12-31` as "31 Dec 2027". */
function longDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return new Date(y, m - 1, d).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
}

/**
 * A rule in words: "Repeats weekly on Mon, Wed", "Repeats every 2 months
 * on the last Friday, 10 times", "Repeats yearly, until 31 Dec 2027".
 */
export function describeRule(rule: string): string {
  const parts = partsOf(rule);
  const freq = parts?.get("FREQ")?.toLowerCase() as Frequency | undefined;
  if (!parts || !freq || !frequencies.includes(freq)) return "Repeats";
  const interval = Number(parts.get("INTERVAL") ?? 1);
  let text = interval > 1 ? `Repeats every ${interval} ${units[freq]}s` : `Repeats ${freq}`;
  const byDay = parts.get("BYDAY")?.split(",") ?? [];
  const plain = byDay.filter((d): d is Weekday => weekdays.includes(d as Weekday));
  if (plain.length === byDay.length && plain.length > 0) {
    const days = weekdays.filter((d) => plain.includes(d));
    if (days.join() === "MO,TU,WE,TH,FR") text += " on weekdays";
    else if (days.join() === "SA,SU") text += " on weekends";
    else text += ` on ${days.map((d) => weekdayNames[d].short).join(", ")}`;
  } else if (byDay.length > 0) {
    const named = byDay.map((d) => {
      const match = /^([+-]?\d)(MO|TU|WE|TH|FR|SA|SU)$/.exec(d);
      const day = match && weekdayNames[match[2] as Weekday].long;
      return match && day ? `${ordinalWords[String(Number(match[1]))] ?? match[1]} ${day}` : d;
    });
    text += ` on the ${list(named)}`;
  }
  const monthDays = parts.get("BYMONTHDAY")?.split(",").map(Number) ?? [];
  if (monthDays.length > 0) {
    const named = monthDays.map((n) => (n === -1 ? "last day" : n < 0 ? `${nth(-n)}-to-last day` : nth(n)));
    text += ` on the ${list(named)}`;
  }
  const count = Number(parts.get("COUNT"));
  if (count) text += count === 1 ? ", once" : `, ${count} times`;
  const until = /^(\d{4})(\d{2})(\d{2})/.exec(parts.get("UNTIL") ?? "");
  if (until) text += `, until ${longDay(`${until[1]}-${until[2]}-${until[3]}`)}`;
  return text;
}

/** Why the picker's state would be refused, or null when it is fine. */
export function repeatProblem(repeat: Repeat, dueDate: string): string | null {
  if (repeat.freq === "none" || repeat.freq === "custom") return null;
  const whole = (text: string, max: number) => /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= max;
  if (!whole(repeat.interval, limits.repeatInterval)) return `Repeat every 1 to ${limits.repeatInterval} ${units[repeat.freq]}s`;
  if (repeat.ends === "count" && !whole(repeat.count, limits.repeatCount)) return `Between 1 and ${limits.repeatCount} times`;
  if (repeat.ends === "until") {
    if (!repeat.until) return "Pick the last day";
    if (repeat.until < dueDate) return "The last day is before the first";
  }
  return null;
}

/** The reminders offered; a task may carry others (set through the API), shown too. */
export const reminderChoices = [0, 5, 15, 30, 60, 1440];

/** "At due time", "15 min before", "1 hour before", "2 days before", "1 h 30 min before". */
export function reminderLabel(minutes: number): string {
  if (minutes === 0) return "At due time";
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"} before`;
  if (minutes % 10080 === 0) return plural(minutes / 10080, "week");
  if (minutes % 1440 === 0) return plural(minutes / 1440, "day");
  if (minutes % 60 === 0) return plural(minutes / 60, "hour");
  if (minutes > 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min before`;
  return `${minutes} min before`;
}
