// Checks the digest's HTML against the caniemail data for Gmail and Outlook.
// usage: node .ci/lint-email.mjs path/to/index.html   (run where @jsx-email/doiuse-email is installed)
// Every finding must be on the explicit allowlist below (feature and client); anything new fails.
import { readFileSync } from 'node:fs';
import { doIUseEmail } from '@jsx-email/doiuse-email';

const OUTLOOK_WORD = ['outlook.windows', 'outlook.windows-mail'];
const GMAIL_ALL = ['gmail.android', 'gmail.desktop-webmail', 'gmail.ios', 'gmail.mobile-webmail'];
// feature -> [clients for which the finding is accepted, why]
const ALLOWED = {
  '<body> element': [[...GMAIL_ALL, 'outlook.android', 'outlook.ios', 'outlook.macos'], 'reported for every email by this checker'],
  'align attribute': [['outlook.macos'], 'partial support; cells still align left by default'],
  'role attribute': [['outlook.windows-mail'], 'role="presentation" and role="article" are for screen readers; ignoring them is harmless'],
  'aria-label attribute': [['outlook.windows-mail'], 'names the article wrapper for screen readers; ignoring it is harmless'],
  'dir attribute': [['gmail.mobile-webmail', ...OUTLOOK_WORD], 'left to right is every client\'s default; dir is set for Gmail, which strips <html>'],
  'text-align': [['gmail.android', 'gmail.ios', ...OUTLOOK_WORD], 'centres the row of tiles; where ignored they sit left, still one or two to a row'],
  'border-radius': [OUTLOOK_WORD, 'status pills lose rounded corners in Outlook'],
  'border': [OUTLOOK_WORD, 'thin separators; partial support in Word'],
  'display:none': [['gmail.mobile-webmail', ...OUTLOOK_WORD], 'hidden preheader; also hidden by size and opacity'],
  'display': [['gmail.android', 'gmail.ios', ...OUTLOOK_WORD], 'images are block-level for spacing only'],
  'font-size': [OUTLOOK_WORD, 'partial in Word; sizes are also plain px'],
  'font-weight': [OUTLOOK_WORD, 'partial in Word; bold also uses <strong>'],
  'height attribute': [['outlook.windows'], 'image heights; the width attribute keeps proportions'],
  'letter-spacing': [OUTLOOK_WORD, 'cosmetic'],
  'line-height': [OUTLOOK_WORD, 'cosmetic'],
  'margin': [[...GMAIL_ALL, 'outlook.android', 'outlook.ios', ...OUTLOOK_WORD], 'spacing also comes from cell padding'],
  'max-width': [OUTLOOK_WORD, 'images also carry width attributes'],
  'opacity': [['gmail.mobile-webmail', ...OUTLOOK_WORD], 'preheader hiding only'],
  'overflow': [['outlook.android', ...OUTLOOK_WORD], 'preheader hiding only'],
  'padding': [OUTLOOK_WORD, 'Word honours padding on table cells, where the layout puts it'],
  'text-transform': [OUTLOOK_WORD, 'uppercase labels fall back to their written case'],
  'white-space': [['gmail.android', 'gmail.ios', ...OUTLOOK_WORD], 'cosmetic'],
  'width attribute': [['outlook.windows'], 'partial; the 600px column also has a width style'],
  // The shared stylesheet (one rule per class instead of the same declarations on every
  // element, which kept the HTML under Gmail's clip): where a client keeps only part of it
  // (Gmail's apps for non-Google accounts), the inlined sheet still gives the layout and
  // the meaning, and the text falls back to the container's type.
  'Class selector': [['gmail.mobile-webmail', 'gmail.android', 'gmail.ios'], 'shared sheet; layout and meaning are inlined'],
  'Type selector': [['gmail.mobile-webmail', 'gmail.android', 'gmail.ios'], 'shared sheet; layout and meaning are inlined'],
  'Descendant combinator': [['gmail.mobile-webmail', 'gmail.android', 'gmail.ios'], 'table cells of the shared sheet; where dropped, cells keep their padding attributes'],
  'Chaining selectors': [[...GMAIL_ALL.filter((c) => c !== 'gmail.desktop-webmail'), ...OUTLOOK_WORD], 'grouped rules of the shared sheet; where dropped, the inlined layout stands'],
  '@media': [[...GMAIL_ALL, 'outlook.ios', 'outlook.android', ...OUTLOOK_WORD], 'only prefers-color-scheme: dark; where ignored the email stays light, as designed'],
  'position': [[...GMAIL_ALL, 'outlook.ios', 'outlook.android', ...OUTLOOK_WORD], 'screen-reader captions only; where ignored the caption shows as a visible title above its table'],
  'overflow-wrap': [[...GMAIL_ALL, 'outlook.ios', 'outlook.android', ...OUTLOOK_WORD], 'long names break anywhere on a narrow phone; where ignored they break at spaces'],
  'Local anchors': [['gmail.ios', 'outlook.android', 'outlook.ios'], 'the first screen links to the alerts just below; where ignored, scrolling reaches them'],
};

const file = process.argv[2];
const html = readFileSync(file, 'utf8');
const result = doIUseEmail(html, { emailClients: ['gmail.*', 'outlook.*'] });
const findings = [...new Set([...(result.errors ?? []), ...(result.warnings ?? [])])];
const bad = findings.filter((f) => {
  const m = f.match(/^`([^`]+)` is (?:only partially |not )supported by `([^`]+)`/);
  if (!m) return true;
  const allowed = ALLOWED[m[1]];
  return !allowed || !allowed[0].includes(m[2]);
});
for (const f of bad) console.log('NOT ALLOWED: ' + f);
console.log(`email lint: ${findings.length} distinct findings, ${bad.length} not on the allowlist`);
process.exit(bad.length === 0 ? 0 : 1);
