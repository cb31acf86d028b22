/** DDL and queries of core's jobs: filled in by the module that owns them. */
export const schema = ``
