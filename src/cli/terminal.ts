/** Control characters other than newline and tab (C0, DEL and C1): what could steer a terminal. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text a function or tenant chose, made safe to print on a terminal: its control characters
 * (escape sequences that could rewrite the screen, the title or the clipboard) become `?`.
 * Output to a pipe or file (`tty` false) is left as it is.
 */
export function forTerminal(text: string, tty: boolean | undefined): string {
  return tty ? text.replace(CONTROL, '?') : text;
}
