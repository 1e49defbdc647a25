import { unavailableCommand } from "./unavailable.ts";

export default unavailableCommand("relay", "Run a STUN/TURN relay");
