import { BadRequestError } from '../errors/index.js';

// LXD's collection filter (`?filter=`, the api_filtering extension) as LXD 5.0.2 reads it, for the
// instances the manager answers for itself: those of hosts that are offline, listed from the index.
// Hosts apply the same filter to their own instances.

/** One `[not] FIELD OP VALUE` clause, joined to what came before it by `and` or `or`. */
export interface FilterClause {
  joinedBy: 'and' | 'or';
  not: boolean;
  field: string;
  /** LXD negates on `ne`; every other operator compares for equality. */
  operator: string;
  value: string;
}

/**
 * Splits a filter into clauses. The words are separated by whitespace; a value may be quoted to hold
 * spaces. Clauses are evaluated left to right, with no precedence between `and` and `or`.
 */
export function parseFilter(filter: string): FilterClause[] {
  const words = filter.split(/\s+/).filter((w) => w !== '');
  const clauses: FilterClause[] = [];
  let joinedBy: FilterClause['joinedBy'] = 'and';
  let i = 0;
  const next = (missing: string): string => {
    const word = words[i];
    if (word === undefined) throw invalid(missing);
    i += 1;
    return word;
  };
  while (i < words.length) {
    const not = words[i]?.toLowerCase() === 'not';
    if (not) i += 1;
    if (not && i === words.length) throw invalid('incomplete not clause');
    const field = next('clause has no operator');
    const operator = next('clause has no operator');
    let value = next('clause has no value');
    if (value.startsWith('"')) {
      const parts = [value.slice(1)];
      for (;;) {
        const word = next('unterminated quote');
        if (word.endsWith('"')) {
          parts.push(word.slice(0, -1));
          break;
        }
        parts.push(word);
      }
      value = parts.join(' ');
    }
    clauses.push({ joinedBy, not, field, operator, value });
    if (i < words.length) {
      const join = next('unterminated compound clause');
      if (join !== 'and' && join !== 'or') throw invalid('invalid clause composition');
      joinedBy = join;
      if (i === words.length) throw invalid('unterminated compound clause');
    }
  }
  return clauses;
}

function invalid(reason: string): BadRequestError {
  return new BadRequestError(`Invalid filter: ${reason}`);
}

/**
 * Whether an API object (as JSON) passes the clauses. Text fields match the value as a case-insensitive
 * regular expression anchored at both ends (unless the value anchors itself), or by case-insensitive
 * equality when the value is no valid expression. Fields that are not text (booleans, numbers) or that
 * are missing never equal a value, as in LXD.
 */
export function matchesFilter(obj: unknown, clauses: FilterClause[]): boolean {
  let match = true;
  for (const clause of clauses) {
    const value = valueAt(obj, clause.field);
    let hit = typeof value === 'string' && textMatches(value, clause.value);
    if (clause.operator === 'ne') hit = !hit;
    if (clause.not) hit = !hit;
    match = clause.joinedBy === 'and' ? match && hit : match || hit;
  }
  return match;
}

function textMatches(text: string, pattern: string): boolean {
  const anchored = pattern.includes('^') || pattern.includes('$') ? pattern : `^${pattern}$`;
  let re: RegExp;
  try {
    re = new RegExp(anchored, 'i');
  } catch {
    return text.toLowerCase() === pattern.toLowerCase();
  }
  return re.test(text);
}

/**
 * The value a dotted field names. A map of text (config, one device) takes the whole rest as one key, so
 * `config.image.os` reads the key `image.os`, and a key it lacks reads as empty text, as a Go map does;
 * objects are entered one part at a time.
 */
function valueAt(obj: unknown, field: string, top = true): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
  const record = obj as Record<string, unknown>;
  if (!top && Object.values(record).every((v) => typeof v === 'string')) {
    const text = Object.hasOwn(record, field) ? record[field] : undefined;
    return text ?? '';
  }
  const dot = field.indexOf('.');
  const head = dot < 0 ? field : field.slice(0, dot);
  if (!Object.hasOwn(record, head)) return undefined;
  return dot < 0 ? record[head] : valueAt(record[head], field.slice(dot + 1), false);
}
