/** The route the platform posts deliveries to (a contract with the platform's configuration). */
export const WEBHOOK_PATH = '/webhooks/ai-interview';
