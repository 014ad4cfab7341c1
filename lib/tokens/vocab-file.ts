/**
 * vocab.json: the vocabulary and its tokenizer config as saved beside the
 * weights, validated field by field when read.
 */
import { checkArray, checkField, checkInt, checkObject, checkString } from '../core/check';
import { UserError } from '../core/errors';
import { readJsonFile, showPath, writeFileAtomic, type FilePath } from '../core/files';
import { defaultTokenizerConfig, validateTokenizerConfig, type TokenizerConfig } from './config';
import { compareTokens, tokenFromString } from './token';
import { makeVocabulary, type Vocabulary } from './vocabulary';

/** The format tag of vocab.json. */
const VOCAB_FORMAT = 'musicgen-vocab/1';

/** The JSON form saved beside the weights. */
interface VocabularyFile {
  readonly format: typeof VOCAB_FORMAT;
  readonly tokenizer: TokenizerConfig;
  readonly tokens: readonly string[];
  readonly counts: readonly number[];
}

function vocabularyToJson(v: Vocabulary): VocabularyFile {
  return { format: VOCAB_FORMAT, tokenizer: v.config, tokens: v.keys, counts: v.counts };
}

/**
 * Checks the saved form field by field; throws a one-line UserError naming
 * `source` and the field, e.g. "vocab.json: tokens[3]: malformed token "x:1"".
 */
function vocabularyFromJson(json: unknown, source = 'vocabulary'): Vocabulary {
  const j = checkField(source, '', () => checkObject('the file', json));
  checkField(source, '', () =>
    checkString('format', j.format, (f) => f === VOCAB_FORMAT, `"${VOCAB_FORMAT}" (is this a musicgen vocab.json?)`),
  );
  const config = checkField(source, 'tokenizer', () => withDefaults(checkObject('tokenizer', j.tokenizer)));
  const strings = checkField(source, '', () => checkArray('tokens', j.tokens));
  if (strings.length === 0) throw new UserError(`${source}: tokens must not be empty`);
  const tokens = strings.map((s, i) =>
    checkField(source, '', () => {
      try {
        return tokenFromString(checkString(`tokens[${i}]`, s));
      } catch (e) {
        throw e instanceof RangeError ? e : new RangeError(`tokens[${i}]: ${(e as Error).message}`);
      }
    }),
  );
  const counts = checkField(source, '', () => {
    const c = checkArray('counts', j.counts);
    if (c.length !== tokens.length) throw new RangeError(`counts must have one entry per token (${tokens.length}, got ${c.length})`);
    c.forEach((x, i) => checkInt(`counts[${i}]`, x, 0, Number.MAX_SAFE_INTEGER));
    return c as number[];
  });
  for (let i = 1; i < tokens.length; i++) {
    if (compareTokens(tokens[i - 1], tokens[i]) >= 0)
      throw new UserError(`${source}: tokens must be sorted and distinct (tokens[${i}] ${JSON.stringify(strings[i])} is out of order)`);
  }
  return makeVocabulary(config, tokens, counts);
}

/**
 * A saved tokenizer config, with the defaults of its scheme for settings added
 * after it was saved; those that change the tokens take the value that keeps
 * the old tokens (meterEveryBar: false).
 */
function withDefaults(saved: Readonly<Record<string, unknown>>): TokenizerConfig {
  const { scheme } = validateTokenizerConfig({ ...defaultTokenizerConfig(), scheme: saved.scheme as TokenizerConfig['scheme'] });
  return validateTokenizerConfig({ ...defaultTokenizerConfig(scheme), meterEveryBar: false, ...saved } as TokenizerConfig);
}

/** Writes vocab.json atomically. */
export function saveVocabulary(file: FilePath, v: Vocabulary): void {
  writeFileAtomic(file, JSON.stringify(vocabularyToJson(v), null, 1) + '\n');
}

/** Reads and checks vocab.json; errors are one line naming the file and the field. */
export function loadVocabulary(file: FilePath): Vocabulary {
  return vocabularyFromJson(readJsonFile(file), showPath(file));
}
