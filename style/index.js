import './screens.css';
import './base.css';
import './history.css';
