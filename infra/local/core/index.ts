/** The `@azure/functions-core` module the Functions worker normally injects, played by a registry. */
export * from './functions-core';
