// "did you mean ...?" for names a user typed: commands, experiments, variants, probes, targets. One rule for all
// of them (edit distance, see closestName) so every message suggests the same way.
import { distance } from 'fastest-levenshtein';

/** How many edits a typo of `name` may have: about 40% of its length (at least 1), so `lsit` finds `list`. */
function maxEdits(name: string): number {
  return Math.max(1, Math.round(name.length * 0.4));
}

/** Two neighbouring letters swapped (`fxi` for `fix`): one typo, though two edits for Levenshtein. */
function oneSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff: number[] = [];
  for (let i = 0; i < a.length && diff.length <= 2; i++) if (a[i] !== b[i]) diff.push(i);
  return diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!];
}

/**
 * The known name closest to `input`, when it is close enough to be a typo of it: the fewest edits (case
 * ignored; a swap of neighbouring letters counts as one) within maxEdits, or else (unless prefix: false) the only name that starts with the input
 * (`rollout` → `rollout-syn-flood`).
 * undefined when nothing is close, when two names are equally close, or when the input is a known name.
 */
export function closestName(
  input: string,
  known: readonly string[],
  opts: { maxEdits?: number; prefix?: boolean } = {},
): string | undefined {
  const x = input.toLowerCase();
  if (!x) return undefined;
  let best: string | undefined,
    bestD = Infinity,
    tie = false;
  for (const k of known) {
    const d = oneSwap(x, k.toLowerCase()) ? 1 : distance(x, k.toLowerCase());
    if (d > (opts.maxEdits ?? maxEdits(k))) continue;
    if (d < bestD) {
      best = k;
      bestD = d;
      tie = false;
    } else if (d === bestD && k !== best) tie = true;
  }
  if (best !== undefined) return tie || best === input ? undefined : best; // ambiguous, or already a known name
  const prefixed = x.length >= 3 && opts.prefix !== false ? known.filter((k) => k.toLowerCase().startsWith(x)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** "did you mean `x`? " (with the trailing space) or '', to put in front of the list of known names. With
 *  sentence: true, "Did you mean `x`? ", to put in front of a hint. */
export function didYouMean(
  input: string,
  known: readonly string[],
  opts: Parameters<typeof closestName>[2] & { sentence?: boolean } = {},
): string {
  const c = closestName(input, known, opts);
  return c === undefined ? '' : `${opts.sentence ? 'D' : 'd'}id you mean \`${c}\`? `;
}
