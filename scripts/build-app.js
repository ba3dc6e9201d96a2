#!/usr/bin/env node
// Builds the participant app (src/app, compiled by tsc into lib/app/) into
// jupyter_interview/static/app/: JupyterLab with only the plugins an interview uses, served for a
// participant's room page in place of JupyterLab's own bundle. It is a module federation host like
// JupyterLab's: the lab's federated extensions (jupyter-collaboration's, ours) share its packages.
// Its shared packages are eager (in bundle.js): one request, where lazy ones took about 120 small
// chunk requests, six at a time over HTTP/1.1. Only what code loads on demand (MathJax, languages)
// is in chunks.
// Usage: node scripts/build-app.js [--production]   (--production: minified, no source maps)
// For profiling: APP_DEVTOOL=source-map with --production keeps source maps; APP_STATS=out.json
// writes which modules each chunk holds.
'use strict';

const fs = require('fs');
const path = require('path');
const webpack = require('webpack');

const run = require('./webpack-run');

const production = process.argv.includes('--production');
const root = path.resolve(__dirname, '..');

// What JupyterLab shares with its extensions: every package of its resolutions, the singletons as
// singletons (an extension's build leaves those out and takes the page's). A package that is not
// installed here is not offered; an extension that needs one fails to load, with its error logged.
const core = require('@jupyterlab/core-meta/core.package.json');
const singletons = new Set(core.jupyterlab.singletonPackages);
const shared = {};
for (const name of Object.keys(core.resolutions)) {
  const manifest = path.join(root, 'node_modules', name, 'package.json');
  if (!fs.existsSync(manifest)) {
    continue;
  }
  const version = JSON.parse(fs.readFileSync(manifest, 'utf8')).version;
  shared[name] = { requiredVersion: `^${version}`, version, singleton: singletons.has(name), eager: true };
}

const config = {
  // Production mode for every build (tree shaking, `sideEffects`, scope hoisting): the page the
  // demo and the browser tests run is the shipped one, less minification (about 2 minutes on two
  // cores, `--production` only). Unminified it loads within ~6% of minified; a development-mode
  // build was ~17% slower.
  mode: 'production',
  optimization: { minimize: production },
  devtool: production ? process.env.APP_DEVTOOL || false : 'source-map',
  entry: { bundle: path.join(root, 'lib', 'app', 'index.js') },
  output: {
    path: path.join(root, 'jupyter_interview', 'static', 'app'),
    // The entry's URL carries a content hash as its query (server_ext/lobby.py); chunks carry
    // theirs in their names, so any can be cached for good.
    filename: '[name].js',
    chunkFilename: '[name].[contenthash:16].js',
    assetModuleFilename: '[contenthash:16][ext]',
    publicPath: 'auto',
    clean: true
  },
  module: {
    rules: [
      // Some packages' ES modules import without file extensions.
      { test: /\.m?js$/, resolve: { fullySpecified: false } },
      { test: /\.css$/, use: [require.resolve('style-loader'), require.resolve('css-loader')] },
      { test: /\.(md|txt)$/, type: 'asset/source' },
      // Icons: as text for the code that inlines them, as data URLs in style sheets if small
      // (a large one, 2.5 MB among them, as a file fetched when a rule applies)
      { test: /\.svg$/, issuer: /\.css$/, type: 'asset', parser: { dataUrlCondition: { maxSize: 8192 } } },
      { test: /\.svg$/, issuer: { not: /\.css$/ }, type: 'asset/source' },
      { test: /\.(png|jpe?g|gif|woff2?|ttf|eot)$/, type: 'asset/resource' }
    ]
  },
  resolve: {
    fallback: { url: false, buffer: false, crypto: false, path: false, fs: false, process: false },
    // One copy of Jupyter's web components: @jupyterlab/shortcuts-extension 5.4 asks for ^0.16 and
    // so brings its own 0.16 (about 200 modules) beside the 0.17 that @jupyterlab/ui-components
    // uses. A singleton runs in its highest version, so the 0.16 copy was only bytes to download
    // and parse.
    alias: Object.fromEntries(
      ['@jupyter/web-components', '@jupyter/react-components'].map(name => [
        name,
        path.join(root, 'node_modules', name)
      ])
    )
  },
  plugins: [
    new webpack.container.ModuleFederationPlugin({
      name: 'INTERVIEW_PARTICIPANT_APP',
      shared
    })
  ],
  performance: { hints: false },
  stats: 'errors-warnings'
};

run('app', config, stats => {
  if (process.env.APP_STATS) {
    // For looking into what the app loads (every module, nested ones too).
    const modules = {
      all: false,
      chunks: true,
      chunkModules: true,
      nestedModules: true,
      dependentModules: true,
      modulesSpace: Infinity,
      nestedModulesSpace: Infinity,
      ids: true
    };
    fs.writeFileSync(process.env.APP_STATS, JSON.stringify(stats.toJson(modules)));
  }
});
