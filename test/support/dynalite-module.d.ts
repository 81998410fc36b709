/** The part of dynalite's (untyped) API walwatch's tests use. */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  /** Options of `dynalite()`: times in ms that tables stay CREATING/UPDATING/DELETING, and a LevelDB path. */
  interface DynaliteOptions {
    createTableMs?: number;
    updateTableMs?: number;
    deleteTableMs?: number;
    maxItemSizeKb?: number;
    path?: string;
  }

  /** Creates (does not start) a dynalite HTTP server. */
  export default function dynalite(options?: DynaliteOptions): Server;
}
