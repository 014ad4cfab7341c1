/** Shared test helpers: where real data lives, and small loaders. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The shared Nottingham folder (absent on a user's fresh clone). */
export const NOTTINGHAM = path.resolve(__dirname, '../../shared/data/nottingham');
export const HAVE_NOTTINGHAM = fs.existsSync(NOTTINGHAM);
/** The project's own corpus. */
export const DATA_DIR = path.resolve(__dirname, '../data');

/** A skip reason when the shared data is missing (node:test's `skip` option). */
export const needNottingham: string | false = HAVE_NOTTINGHAM ? false : 'no ../shared/data/nottingham here';
