import { FeedbackModule } from './feedback/feedback.module.js';
import { InterviewsModule } from './interviews/interviews.module.js';

/**
 * The feature modules: each handles event types (@HandlesEvent beside defineEvent). Importing this
 * file declares all of them, in every role: the api role validates and documents deliveries with
 * their schemas, and the worker roles load the modules and run their handlers. A new feature
 * module is added here.
 */
export const FEATURES = [InterviewsModule, FeedbackModule];
