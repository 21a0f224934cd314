/** Entry point: the page is one element; everything else is wired inside it. */
import './ui/chorus-app';
