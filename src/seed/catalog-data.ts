// Vocabulary for realistic seed data: people, and products in categories with plausible prices.
export const firstNames = [
  'Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Frances', 'Edsger', 'Radia', 'Donald',
  'Hedy', 'Tim', 'Katherine', 'Guido', 'Sophie', 'Bjarne', 'Annie', 'James', 'Mary', 'Niklaus', 'Jean', 'Leslie',
  'Lovisa', 'Mateo', 'Amara', 'Kenji', 'Priya', 'Olu', 'Ines', 'Yusuf', 'Mei', 'Lars', 'Zanele', 'Diego',
];
export const lastNames = [
  'Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Allen', 'Dijkstra',
  'Perlman', 'Knuth', 'Lamarr', 'Berners-Lee', 'Johnson', 'van Rossum', 'Wilson', 'Stroustrup', 'Easley', 'Gosling',
  'Keller', 'Wirth', 'Sammet', 'Lamport', 'Okafor', 'Silva', 'Nakamura', 'Patel', 'Adeyemi', 'Moreau', 'Demir',
];
export const emailDomains = ['example.com', 'example.org', 'mail.example.net', 'shop.example'];

export const categories: { name: string; nouns: string[]; priceCents: [number, number] }[] = [
  { name: 'Books', nouns: ['Novel', 'Cookbook', 'Atlas', 'Field Guide', 'Anthology'], priceCents: [799, 4_999] },
  { name: 'Kitchen', nouns: ['Kettle', 'Chef Knife', 'Skillet', 'Grinder', 'Teapot'], priceCents: [1_499, 19_999] },
  { name: 'Outdoors', nouns: ['Tent', 'Headlamp', 'Backpack', 'Water Filter', 'Trekking Poles'], priceCents: [1_999, 24_999] },
  { name: 'Electronics', nouns: ['Headphones', 'Keyboard', 'Speaker', 'Charger', 'Webcam'], priceCents: [1_999, 29_999] },
  { name: 'Garden', nouns: ['Trowel', 'Planter', 'Hose', 'Pruner', 'Seed Kit'], priceCents: [599, 12_999] },
  { name: 'Toys', nouns: ['Puzzle', 'Kite', 'Building Set', 'Board Game', 'Yo-yo'], priceCents: [499, 8_999] },
];
export const adjectives = ['Classic', 'Compact', 'Deluxe', 'Everyday', 'Nordic', 'Pro', 'Travel', 'Vintage', 'Ultra', 'Bamboo'];
