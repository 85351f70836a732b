/**
 * The web console's session cookie. It is named here, below both the console and the function
 * URLs, because they share the Lambda API's origin and no function URL may set it.
 */
export const CONSOLE_SESSION_COOKIE = 'stratus_console';
