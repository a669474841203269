/** HTTP triggers: route templates as the Functions host matches them, and the router that serves them. */
export * from './route-template';
export * from './router';
