// Seed data for the Movies table, as an ES module, loaded with
//   node seed.js   -- or, without running any code, with ddbload.
/* Keys: Name (partition), Year (sort). Ratings are out of 10. */

export default [
  {
    Name: 'The Amazing Spider-Man 2',
    Year: 2014,
    Genres: ['Action', 'Sci-Fi'], /* note */
    Rating: 6.6,
    Actors: ["Andrew Garfield", 'Emma Stone', 'Jamie Foxx',],
    Info: {
      Directors: ['Marc Webb'],
      RunningTimeSecs: 8520,
      Plot: 'Peter Parker\'s greatest battle begins.',
      Budget: 0xBEBC200, // 200,000,000
    },
  },
  {
    Name: "Prisoners",
    Year: 2013,
    Genres: ['Crime', 'Drama', 'Mystery'],
    Rating: 8.1,
    Info: {
      Directors: ['Denis Villeneuve'],
      Plot: `When Keller Dover's daughter and her friend go missing,
he takes matters into his own hands.`,
      Rank: 2,
      Image_url: 'http://ia.media-imdb.example/images/M/prisoners.jpg',
    },
  },
  // a film without a rating yet: undefined attributes are left out
  {
    Name: 'Rush', Year: 2013, Rating: undefined,
    Genres: [ 'Action', 'Biography', 'Drama', 'Sport' ],
    Info: { Directors: ['Ron Howard'], Rank: 3, Plot: "A re-creation of the merciless 1970s rivalry between \"Formula One\" rivals James Hunt and Niki Lauda." },
  },
  {
    Name: 'Amélie', Year: 2001, Rating: 8.3,
    Genres: ['Comedy', 'Romance'],
    Info: {
      Directors: ['Jean-Pierre Jeunet'],
      Plot: 'Am\u00e9lie, an innocent and na\xefve girl in Paris \u{1F1EB}\u{1F1F7}, \
decides to help those around her.',
    },
  },
  {
    Name: 'Gravity', Year: 2013, Rating: 7.9, Released: true, Sequel: null,
    Genres: ['Drama', 'Sci-Fi', 'Thriller'],
    Info: { Directors: ['Alfonso Cuarón'], Rank: 5, Budget: 100_000_000, Score: .79, BoxOffice: 7.23e8, },
  },
];
