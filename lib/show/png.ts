/**
 * Rasterising an SVG string to PNG bytes with resvg (PNG is what renders
 * reliably in GitHub's notebook view; SVG text needs a font there and here).
 *
 * Fonts: resvg draws no text at all when it finds no font, silently. So
 * {@link svgToPng} loads the system fonts (plus any `fontFiles` given or
 * named in MUSICGEN_FONT), checks once that text can be drawn, and otherwise
 * throws a one-line error naming the package to install.
 */
import * as fs from 'node:fs';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { UserError } from '../core/errors';
import { esc, FONT_FAMILY } from './svg';

/** Options for {@link svgToPng}. */
export interface PngOptions {
  /** Output width in pixels (height keeps the aspect ratio). Default: the SVG's own width × 2 (sharp on hi-dpi screens). */
  readonly width?: number;
  /** Extra font files (.ttf/.otf) to load, besides the system fonts and MUSICGEN_FONT. */
  readonly fontFiles?: readonly string[];
}

/** Debian/Ubuntu font files tried first, so output looks the same on every Linux machine that has them. */
const KNOWN_FONTS: readonly string[] = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
];

let fontCheck: { key: string; ok: boolean } | undefined;

function fontOptions(extra: readonly string[]): NonNullable<ResvgRenderOptions['font']> {
  const env = process.env.MUSICGEN_FONT ? [process.env.MUSICGEN_FONT] : [];
  for (const f of [...env, ...extra]) {
    if (!fs.existsSync(f)) throw new UserError(`font file not found: ${f}`);
  }
  const fontFiles = [...KNOWN_FONTS.filter((f) => fs.existsSync(f)), ...env, ...extra];
  return { loadSystemFonts: true, fontFiles, sansSerifFamily: 'DejaVu Sans', defaultFontFamily: 'DejaVu Sans' };
}

/** True when resvg can draw text with the fonts it finds (checked once per font set). */
function textRenders(font: NonNullable<ResvgRenderOptions['font']>): boolean {
  const key = JSON.stringify(font.fontFiles ?? []);
  if (fontCheck?.key !== key) {
    const probe = `<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30"><text x="2" y="20" font-size="16" font-family="${esc(FONT_FAMILY)}">Hg</text></svg>`;
    fontCheck = { key, ok: new Resvg(probe, { font, logLevel: 'off' }).getBBox() !== undefined };
  }
  return fontCheck.ok;
}

/**
 * Rasterises an SVG string to PNG bytes. Throws a one-line {@link UserError}
 * when no font is available for the text (naming the package to install), or
 * when the SVG cannot be parsed.
 */
export function svgToPng(svg: string, options: PngOptions = {}): Uint8Array {
  const font = fontOptions(options.fontFiles ?? []);
  if (!textRenders(font)) {
    throw new UserError(
      'no font found to draw chart text in PNGs; install one (Debian/Ubuntu: sudo apt-get install -y fonts-dejavu-core) or set MUSICGEN_FONT to a .ttf file',
    );
  }
  if (options.width !== undefined && !(Number.isInteger(options.width) && options.width >= 16 && options.width <= 8192)) {
    throw new UserError(`PNG width must be an integer from 16 to 8192 (got ${options.width})`);
  }
  let resvg: Resvg;
  try {
    resvg = new Resvg(svg, { font, logLevel: 'off', fitTo: { mode: 'original' } });
  } catch (e) {
    throw new UserError(`cannot rasterise SVG: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
  const width = options.width ?? Math.round(resvg.width * 2);
  const png = new Resvg(svg, { font, logLevel: 'off', fitTo: { mode: 'width', value: width } }).render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
