// Types of documents.js (plain browser JavaScript, also imported by the server).
export declare const statusSubscription: string;
export declare const listsQuery: string;
export declare const mutations: { retry: string; discard: string; resume: string };
export declare const opsConsoleDocuments: readonly string[];
