import { FeedbackModule } from './feedback/feedback.module.js';
import { InterviewsModule } from './interviews/interviews.module.js';

/**
 * The feature modules: each handles event types (@HandlesEvent beside defineEvent) and holds its
 * tables' personal data (@HoldsPersonalData). They are loaded in every role: the api role validates
 * and documents deliveries with their schemas and erases or exports their personal data, and the
 * worker roles also run their handlers (ProcessingModule). A new feature module is added here.
 */
export const FEATURES = [InterviewsModule, FeedbackModule];
