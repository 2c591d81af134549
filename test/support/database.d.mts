export function checkoutDatabase(prefix: string): string;
export function databaseUrlFor(url: string, database: string): string;
export function recreateDatabase(url: string, database: string): Promise<void>;
