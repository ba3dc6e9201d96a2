#!/usr/bin/env node
// Builds the lobby bundle (src/lobby.ts, compiled by tsc into lib/) into
// jupyter_interview/static/lobby.js: the first script of a participant's lab page, served by the
// server extension. Small on purpose: the lobby model and view, the local media, their styles.
// Usage: node scripts/build-lobby.js [--production]
'use strict';

const path = require('path');

const run = require('./webpack-run');

const production = process.argv.includes('--production');
const root = path.resolve(__dirname, '..');

const config = {
  mode: production ? 'production' : 'development',
  devtool: production ? false : 'source-map',
  entry: path.join(root, 'lib', 'lobby.js'),
  output: {
    path: path.join(root, 'jupyter_interview', 'static'),
    filename: 'lobby.js',
    // The participant app's folder (scripts/build-app.js) is not the lobby's to remove.
    clean: { keep: /^app[\\/]/ }
  },
  module: {
    rules: [{ test: /\.css$/, use: [require.resolve('style-loader'), require.resolve('css-loader')] }]
  },
  performance: { hints: false }
};

run('lobby', config);
