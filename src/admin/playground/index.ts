/** The playground's face for the admin server: the one-run holder and its routes. */
export { Playground, type PlaygroundView } from './playground.js';
export { playgroundRoutes } from './routes-playground.js';
