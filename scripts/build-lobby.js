#!/usr/bin/env node
// Builds the lobby bundle (src/lobby.ts, compiled by tsc into lib/) into
// jupyter_interview/static/lobby.js: the first script of a participant's lab page, served by the
// server extension. Small on purpose: the lobby model and view, the local media, their styles.
// Usage: node scripts/build-lobby.js [--production]
'use strict';

const path = require('path');
const webpack = require('webpack');

const production = process.argv.includes('--production');
const root = path.resolve(__dirname, '..');

const config = {
  mode: production ? 'production' : 'development',
  devtool: production ? false : 'source-map',
  entry: path.join(root, 'lib', 'lobby.js'),
  output: {
    path: path.join(root, 'jupyter_interview', 'static'),
    filename: 'lobby.js',
    clean: true
  },
  module: {
    rules: [{ test: /\.css$/, use: [require.resolve('style-loader'), require.resolve('css-loader')] }]
  },
  performance: { hints: false }
};

webpack(config, (error, stats) => {
  if (error) {
    console.error(error);
    process.exit(1);
  }
  const info = stats.toJson({ all: false, errors: true, warnings: true, assets: true });
  for (const warning of info.warnings) {
    console.warn(warning.message ?? warning);
  }
  if (stats.hasErrors()) {
    for (const e of info.errors) {
      console.error(e.message ?? e);
    }
    process.exit(1);
  }
  for (const asset of info.assets) {
    console.log(`lobby: ${asset.name} ${(asset.size / 1024).toFixed(1)} KiB`);
  }
});
