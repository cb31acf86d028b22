/** DDL and queries of core's schedules: filled in by the module that owns them. */
export const schema = ``
